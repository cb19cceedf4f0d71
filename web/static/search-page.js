// Progressive enhancement for /search: the facet form submits itself when a
// box is ticked, so the "apply" button is only needed without JavaScript.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (!form) return;
  form.addEventListener("change", function (event) {
    if (event.target && event.target.type === "date") return; // wait for the button
    // The month only makes sense within the chosen year.
    if (event.target && event.target.name === "year") {
      form.querySelectorAll("input[name=month]").forEach(function (m) { m.disabled = true; });
    }
    form.submit();
  });
  // Back/forward: the browser restores ticked boxes (and the bfcache keeps
  // disabled ones), but the page shows the state in the URL. Reset the form
  // to the server-rendered state.
  window.addEventListener("pageshow", function () {
    form.querySelectorAll("input[name=month]").forEach(function (m) { m.disabled = false; });
    form.reset();
  });
  var apply = form.querySelector(".apply");
  if (apply && !form.querySelector("input[type=date]")) apply.hidden = true;
})();
