// The window calculator: from the day a dispute was filed with the MCO, the first and
// last day HFS accepts the complaint. The bounds come from the page (portal.toml).
(function () {
  "use strict";
  var section = document.querySelector(".calculator");
  if (!section) { return; }
  var minDays = parseInt(section.getAttribute("data-min-days"), 10);
  var maxDays = parseInt(section.getAttribute("data-max-days"), 10);
  var form = section.querySelector(".window-form");
  var input = section.querySelector("#filed-on");
  var result = section.querySelector("#window-result");
  if (!form || !input || !result || isNaN(minDays) || isNaN(maxDays)) { return; }
  form.hidden = false;

  function parse(text) {
    var match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!match) { return null; }
    var day = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
    return day.getUTCMonth() === +match[2] - 1 ? day : null;
  }
  function addDays(day, count) {
    return new Date(day.getTime() + count * 86400000);
  }
  function iso(day) { return day.toISOString().slice(0, 10); }
  function spoken(day) {
    return day.toLocaleDateString("en-US", { weekday: "long", year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
  }
  function show() {
    var filed = parse(input.value);
    if (!filed) {
      result.textContent = "Enter the date you filed with the MCO.";
      return;
    }
    var first = addDays(filed, minDays);
    var last = addDays(filed, maxDays);
    result.textContent = "HFS accepts this complaint from " + spoken(first) + " (" + iso(first) + ") to " +
      spoken(last) + " (" + iso(last) + ").";
    result.setAttribute("data-earliest", iso(first));
    result.setAttribute("data-latest", iso(last));
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); show(); });
  input.addEventListener("change", show);
})();
