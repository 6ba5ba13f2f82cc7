"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  try {
    await pbx.postJSON("/api/login", { token: document.getElementById("token").value });
    location.href = "/";
  } catch (e) {
    err.textContent = e.message;
  }
});
