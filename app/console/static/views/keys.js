// The queue's keyboard shortcuts, listed on screen (#shortcuts): S the next call, P take the open call,
// C search slots for it, / find a call of the day. A key typed in a field is text, never a shortcut; a
// key with Ctrl, Alt or Meta is the browser's.
import { $ } from "../dom.js";
import { state } from "../state.js";
import { openCall } from "./call.js";
import { nextCall, take } from "./queue.js";
import { searchSlots } from "./slots.js";
import { showTab } from "./tabs.js";

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export const SHORTCUTS = {
  s: async () => { const call = nextCall(); if (call) await openCall(call.id, true); },
  p: async () => { if (state.call) await take(state.call); },
  c: async () => { if (state.call) { showTab("slots"); await searchSlots(); } },
  "/": async () => { showTab("calls"); $("#find [name=q]").focus(); },
};

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.altKey || e.metaKey || e.defaultPrevented) return;
  const target = e.target;
  if (target && (TYPING.has(target.tagName) || target.isContentEditable)) return;
  const action = SHORTCUTS[e.key.toLowerCase()];
  if (!action || !state.me || !["operator", "regulator", "admin"].includes(state.me.role)) return;
  e.preventDefault();
  action();
});
