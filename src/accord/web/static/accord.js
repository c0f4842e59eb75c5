// Accord's own behaviour, kept out of the pages so the CSP can forbid inline script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // On phones the navigation folds behind the Menu button; without scripts it simply stays open.
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.closest("header").classList.add("with-menu");
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // The language menu submits itself when changed (a button is shown when scripts are off).
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // "Copy" buttons next to secrets shown once.
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      await navigator.clipboard.writeText(source.textContent.trim());
      button.classList.add("done");
    });
  }
});

// Upload progress for the import form (htmx reports XHR progress events).
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.getElementById("import-progress");
  if (!bar || !event.detail.lengthComputable) return;
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
});
