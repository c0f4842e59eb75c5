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

// Evidence uploads send the file itself as the request body (never multipart), so the node hashes it as it
// arrives and can refuse a body shorter than the Content-Length the browser announced. The form's other fields
// travel in the query string and the anti-forgery token in the X-CSRF-Token header.
function utcOffset(date) {
  const minutes = -date.getTimezoneOffset();
  const whole = Math.abs(minutes);
  const pad = (n) => String(n).padStart(2, "0");
  return (minutes < 0 ? "-" : "+") + pad(Math.floor(whole / 60)) + ":" + pad(whole % 60);
}

function showAnswer(target, html) {
  // Error pages arrive whole: keep what is inside <main>. Parsed markup never runs script (and the CSP forbids it).
  const parsed = new DOMParser().parseFromString(html, "text/html");
  const source = parsed.querySelector("main") || parsed.body;
  target.replaceChildren(...Array.from(source.childNodes, (node) => document.importNode(node, true)));
  target.scrollIntoView({ block: "nearest" });
}

function rawUpload(form, submitter) {
  const fileInput = form.querySelector("input[type=file]");
  const file = fileInput && fileInput.files[0];
  if (!file) {
    fileInput.reportValidity();
    return;
  }
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string" && name !== "csrf_token" && value.trim() !== "") query.append(name, value);
  }
  query.set("file_name", file.name.normalize("NFC"));
  const action = (submitter && submitter.getAttribute("formaction")) || form.getAttribute("action");
  const result = document.getElementById(form.dataset.result);
  const bar = form.querySelector("progress");
  const buttons = form.querySelectorAll("button");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", action + "?" + query.toString());
  xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf_token.value);
  xhr.setRequestHeader("Accept", "text/html");
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
  });
  xhr.upload.addEventListener("load", () => { bar.value = 100; });
  const done = () => { for (const button of buttons) button.disabled = false; };
  xhr.addEventListener("load", () => {
    const location = xhr.getResponseHeader("Location");
    if (xhr.status === 201 && location) {
      window.location.assign(location);  // the new item's page
      return;
    }
    done();
    showAnswer(result, xhr.responseText);
  });
  xhr.addEventListener("error", () => {
    done();
    const message = document.createElement("p");
    message.className = "alert";
    message.setAttribute("role", "alert");
    message.textContent = form.dataset.failed;
    result.replaceChildren(message);
  });
  for (const button of buttons) button.disabled = true;
  bar.value = 0;
  bar.hidden = false;
  result.replaceChildren();
  xhr.send(file);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.raw-upload")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      rawUpload(form, event.submitter);
    });
  }
  // The offset of the time a file was collected: the browser's own for that date, until the user types one.
  for (const offset of document.querySelectorAll("input[data-offset-of]")) {
    const local = document.getElementById(offset.dataset.offsetOf);
    const fill = () => {
      if (offset.dataset.edited) return;
      const when = local.value ? new Date(local.value) : new Date();
      if (!Number.isNaN(when.getTime())) offset.value = utcOffset(when);
    };
    offset.addEventListener("input", () => { offset.dataset.edited = "yes"; });
    local.addEventListener("change", fill);
    fill();
  }
});

// Cooperation pages.
document.addEventListener("DOMContentLoaded", () => {
  // Times are written in UTC; the viewer's own local time, in their language's format, is added beside them.
  const format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: "medium", timeStyle: "short",
  });
  for (const time of document.querySelectorAll("time[data-local]")) {
    const moment = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) continue;
    const local = document.createElement("span");
    local.className = "local-time";
    local.textContent = format.format(moment);
    time.after(local);
  }
  // The instruments offered for a request type are those the catalogue lists for it.
  for (const select of document.querySelectorAll("select[data-filter-by]")) {
    const radios = select.form.querySelectorAll(`input[type=radio][name="${select.dataset.filterBy}"]`);
    const filter = () => {
      const chosen = Array.from(radios).find((radio) => radio.checked);
      for (const option of select.options) {
        if (!option.value) continue;
        const fits = !chosen || option.dataset.types.split(" ").includes(chosen.value);
        option.hidden = !fits;
        option.disabled = !fits;
      }
      if (select.selectedOptions[0] && select.selectedOptions[0].disabled) select.value = "";
      const usable = Array.from(select.options).filter((option) => option.value && !option.disabled);
      if (!select.value && usable.length === 1) select.value = usable[0].value;
    };
    for (const radio of radios) radio.addEventListener("change", filter);
    filter();
  }
  // Repeatable rows (data to preserve): another empty row, copied from the last one.
  for (const button of document.querySelectorAll("button[data-add-row]")) {
    const rows = document.getElementById(button.dataset.addRow);
    if (!rows) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      const last = rows.lastElementChild;
      const row = last.cloneNode(true);
      const index = rows.children.length;
      for (const field of row.querySelectorAll("textarea, select, input")) {
        field.id = field.id.replace(/-\d+$/, `-${index}`);
        field.value = "";
      }
      for (const label of row.querySelectorAll("label[for]")) {
        label.htmlFor = label.htmlFor.replace(/-\d+$/, `-${index}`);
        label.textContent = label.textContent.replace(/\d+/, String(index + 1));
      }
      rows.append(row);
      row.querySelector("textarea, input").focus();
    });
  }
});
