// The banner: what the user must act on (a session that ends or ended, a queue followed elsewhere). It
// stays until it is acted on or no longer true: the messages of the actions never cover it.
import { $ } from "./dom.js";

export function showBanner(text, actionLabel, action) {
  $("#banner-text").textContent = text;
  const button = $("#banner-action");
  button.hidden = !actionLabel;
  button.textContent = actionLabel || "";
  button.onclick = action || null;
  $("#banner").hidden = false;
}

export function clearBanner() { $("#banner").hidden = true; $("#banner-text").textContent = ""; }
