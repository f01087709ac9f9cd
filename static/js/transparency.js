// Draws the transparency report's two charts from the JSON data block on the page.
(function () {
  "use strict";
  var block = document.getElementById("transparency-data");
  if (!block || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var report = data.report;
  function bars(name, mapping, names, label, colour) {
    var canvas = document.querySelector('canvas[data-chart="' + name + '"]');
    if (!canvas) { return; }
    var keys = Object.keys(mapping);
    canvas.chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: keys.map(function (k) { return (names || {})[k] || k; }),
              datasets: [{ label: label, data: keys.map(function (k) { return mapping[k]; }), backgroundColor: colour }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false }
    });
    canvas.dataset.rendered = "true";
  }
  bars("categories", report.notices.by_category, data.category_labels, data.labels.categories, "#2d5bd1");
  bars("policies", report.actions.by_policy, null, data.labels.policies, "#2f855a");
}());
