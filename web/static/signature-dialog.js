// The e-signature dialog of an always-signed step (web/templates/step_form.html): sending the form opens it as a
// modal that asks for the signing PIN; "Sign and record" sends the form with it, Cancel or Escape goes back to the
// form. Without scripts the dialog stays open in the page and its fields are sent with the form.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const dialog of document.querySelectorAll("dialog.signature-dialog")) {
    const form = dialog.closest("form");
    if (!form || typeof dialog.showModal !== "function") continue;
    dialog.close();
    dialog.classList.add("modal");
    form.addEventListener("submit", (event) => {
      if (event.submitter && dialog.contains(event.submitter)) return; // signed: the form goes with its PIN
      event.preventDefault();
      dialog.showModal();
      dialog.querySelector("input[type=password]").focus();
    });
    dialog.querySelector(".cancel-signing").addEventListener("click", () => dialog.close());
  }
});
