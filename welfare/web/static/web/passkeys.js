/* Beside django-otp-webauthn's own scripts (served as they are): the words they ask
   `gettext` for, as written (the page carries no JavaScript catalogue), and, once a passkey
   is added, the page the server names, which lists it. */
(function () {
  "use strict";
  if (typeof window.gettext !== "function") {
    window.gettext = function (text) { return text; };
  }
  document.addEventListener("otp_webauthn.register_complete", function (event) {
    var answer = (event.detail && event.detail.response) || {};
    window.location.assign(answer.redirect_url || window.location.pathname);
  });
}());
