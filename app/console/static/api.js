// The API client: every action is a call to the public API with the user's token.
import { errorMessage } from "./i18n.js";
import { state } from "./state.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(errorMessage(status, body));
    this.status = status; this.kind = body && body.error; this.body = body;
  }
}

export async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}`, ...headers } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A file the API renders (a chart, a spreadsheet), as a blob: URL the page can show or download.
export async function apiFile(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return URL.createObjectURL(await response.blob());
}
