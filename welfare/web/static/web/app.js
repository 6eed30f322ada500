/* The viewing-session timer. Progressive: without JavaScript the "log by hand" form works.
   State lives in localStorage, so a reload or a lost connection keeps the running timer and
   its client_ref: whatever happens, a session is logged once. */
(function () {
  "use strict";
  var KEY = "welfare.timer";
  var root = document.getElementById("timer");
  if (!root) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var breakAfter = parseInt(root.dataset.breakAfter || "60", 10);
  var breakMinutes = parseInt(root.dataset.breakMinutes || "10", 10);
  var dayRemaining = root.dataset.dayRemaining === "" ? null : parseInt(root.dataset.dayRemaining, 10);
  var state = null;
  var baseTitle = document.title;
  /* The words the page gave (in the person's language), with {n} for a number. */
  var words = function (key, fallback, n) {
    var text = root.dataset[key] || fallback;
    return n === undefined ? text : text.replace("{n}", String(n));
  };
  var notified = null;  /* the stretch (its start) a break notification was sent for */

  function load() {
    try { state = JSON.parse(window.localStorage.getItem(KEY) || "null"); } catch (e) { state = null; }
  }
  function save() { window.localStorage.setItem(KEY, JSON.stringify(state)); }
  function clear() { state = null; window.localStorage.removeItem(KEY); }
  function now() { return new Date(); }
  function running() { return state && state.segments.length && state.segments[state.segments.length - 1][1] === null; }
  function stopped() { return state && state.stopped; }

  function totalMs() {
    if (!state) { return 0; }
    return state.segments.reduce(function (sum, s) {
      return sum + ((s[1] ? new Date(s[1]) : now()) - new Date(s[0]));
    }, 0);
  }
  function stretchBegin() {
    /* When the viewing since the last proper break began: pauses shorter than a break do
       not count as one. */
    var segs = state.segments, i = segs.length - 1;
    while (i > 0 && (new Date(segs[i][0]) - new Date(segs[i - 1][1])) < breakMinutes * 60000) { i -= 1; }
    return new Date(segs[i][0]);
  }
  function continuousMs() {
    if (!state || !state.segments.length) { return 0; }
    var segs = state.segments;
    var end = segs[segs.length - 1][1] ? new Date(segs[segs.length - 1][1]) : now();
    return end - stretchBegin();
  }
  function clock(ms) {
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h + ":" + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }
  function tell(text) {
    /* Seen outside this tab: a system notification, once per stretch, if the officer allowed it. */
    if (!("Notification" in window) || Notification.permission !== "granted") { return; }
    var stretch = stretchBegin().toISOString();
    if (notified === stretch) { return; }
    notified = stretch;
    try { new Notification(words("tNotifyTitle", "Welfare service: time for a break"), { body: text, tag: "welfare-break" }); } catch (e) { /* not allowed here */ }
  }
  function nudge() {
    var box = $("nudge"), text = "", due = false;
    if (running()) {
      var cont = continuousMs() / 60000;
      if (cont >= breakAfter) { text = words("tBreakNow", "Time for a {n}-minute break now.", breakMinutes); due = true; }
      else if (cont >= breakAfter - 10) { text = words("tBreakSoon", "A break is due in {n} minutes.", Math.ceil(breakAfter - cont)); }
      if (dayRemaining !== null && totalMs() / 60000 >= dayRemaining) {
        text = (text ? text + " " : "") + words("tDayClose", "You are close to today's limit.");
        due = true;
      }
    }
    box.hidden = !text;
    if (box.textContent !== text) { box.textContent = text; }
    /* The tab's title carries it too, for an officer working in another window. */
    var title = due ? words("tTitleBreak", "Break due") + " – " + baseTitle : (running() ? words("tViewing", "Viewing") + " – " + baseTitle : baseTitle);
    if (document.title !== title) { document.title = title; }
    if (due) { tell(text); }
    var ask = $("timer-notify");
    if (ask) { ask.hidden = !("Notification" in window) || Notification.permission !== "default"; }
  }
  function render() {
    $("elapsed").textContent = clock(totalMs());
    var label = words("tNotRunning", "Not running");
    if (stopped()) { label = words("tStopped", "Stopped: say what it was, then log it"); }
    else if (running()) { label = words("tViewing", "Viewing"); }
    else if (state) { label = words("tPaused", "Paused: a pause under {n} minutes stays part of this session", breakMinutes); }
    if ($("timer-state").textContent !== label) { $("timer-state").textContent = label; }
    $("timer-start").disabled = !!state;
    $("timer-pause").disabled = !running();
    $("timer-pause").hidden = !!state && !running();
    $("timer-resume").hidden = !(state && !running() && !stopped());
    $("timer-stop").disabled = !state || stopped();
    $("timer-form").hidden = !stopped();
    if (state) {
      $("timer-ref").value = state.ref;
      $("timer-segments").value = JSON.stringify(state.segments);
    }
    nudge();
  }

  $("timer-start").addEventListener("click", function () {
    state = { ref: $("timer-ref").value, segments: [[now().toISOString(), null]], stopped: false };
    save(); render();
    $("timer-pause").focus();
  });
  $("timer-pause").addEventListener("click", function () {
    if (running()) { state.segments[state.segments.length - 1][1] = now().toISOString(); save(); }
    render();
    $("timer-resume").focus();
  });
  $("timer-resume").addEventListener("click", function () {
    if (state && !running()) { state.segments.push([now().toISOString(), null]); save(); }
    render();
    $("timer-pause").focus();
  });
  $("timer-stop").addEventListener("click", function () {
    if (running()) { state.segments[state.segments.length - 1][1] = now().toISOString(); }
    if (state) { state.stopped = true; save(); }
    render();
    var first = $("t-material"); if (first) { first.focus(); }
  });
  $("timer-discard").addEventListener("click", function () {
    if (window.confirm(words("tDiscard", "Discard this session without logging it?"))) { clear(); render(); $("timer-start").focus(); }
  });
  if ($("timer-notify")) {
    $("timer-notify").addEventListener("click", function () {
      Notification.requestPermission().then(function () { render(); });
    });
  }
  $("timer-form").addEventListener("submit", function () {
    render();
    clear();  /* the server keeps it once; the page's client_ref guards a resend */
    $("timer-save").disabled = true;
  });

  load();
  render();
  window.setInterval(render, 1000);
}());

/* Copy buttons: `data-copy` names the field whose text goes to the clipboard. */
(function () {
  "use strict";
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      var said = button.parentNode.querySelector(".copied");
      if (!field) { return; }
      var done = function () { if (said) { said.textContent = "Copied."; } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
      } else {
        field.select();
        try { if (document.execCommand("copy")) { done(); } } catch (e) { /* selected: copy by hand */ }
      }
    });
  });
}());
