// The invitation link carries its one-time code in the fragment (never sent to the server, so
// never in an access log). Move it into the form, drop it from the address bar and history,
// and post it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-invitation]");
  var field = document.getElementById("invite-token");
  if (!form || !field) { return; }
  var code = window.location.hash.replace(/^#/, "");
  if (!code) { return; }
  try { code = decodeURIComponent(code); } catch (e) { return; }
  history.replaceState(null, "", window.location.pathname + window.location.search);
  field.value = code;
  form.submit();
})();
