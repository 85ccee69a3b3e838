// The browsable API's forms for methods a browser cannot send from HTML (PUT, PATCH,
// DELETE, OPTIONS) and the raw JSON forms, as DRF's ajax-form.js: the request goes through
// the normal API path with the session cookie and the page's CSRF token, and the HTML answer
// replaces the page. Listeners sit on `document`, which survives the body being replaced.
"use strict";
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("ajax")) {
    return;
  }
  event.preventDefault();
  const submitter = event.submitter;
  const method = (submitter && submitter.dataset.method) || form.dataset.method || "POST";
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    return;
  }
  const token = form.querySelector("input[name=csrfmiddlewaretoken]");
  const headers = { "Accept": "text/html" };
  if (token) {
    headers["X-CSRFToken"] = token.value;
  }
  let body;
  if (form.dataset.raw) {
    headers["Content-Type"] = "application/json";
    body = form.querySelector("textarea[name=_content]").value;
  } else if (method !== "DELETE" && method !== "OPTIONS") {
    const data = new URLSearchParams(new FormData(form));
    data.delete("csrfmiddlewaretoken");
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = data.toString();
  }
  const response = await fetch(form.action, { method, headers, body, credentials: "same-origin" });
  if (response.status === 204 && form.dataset.next) {
    window.location.assign(form.dataset.next);
    return;
  }
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  document.title = page.title;
  document.body.replaceWith(document.adoptNode(page.body));
});
