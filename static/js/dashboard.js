// Draws the dashboard charts with the vendored Chart.js from the JSON data block on the page.
(function () {
  "use strict";
  var block = document.getElementById("dashboard-data");
  if (!block || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var figures = data.figures;
  var labels = data.labels;
  var categories = Object.keys(figures.categories).sort();
  var names = categories.map(function (c) { return (data.category_labels || {})[c] || c; });
  function column(name) { return categories.map(function (c) { return figures.categories[c][name]; }); }
  var common = { responsive: true, maintainAspectRatio: false, animation: false };

  function chart(name, config) {
    var canvas = document.querySelector('canvas[data-chart="' + name + '"]');
    if (canvas) {
      config.options = Object.assign({}, common, config.options || {});
      canvas.chart = new window.Chart(canvas, config);
      canvas.dataset.rendered = "true";
    }
  }

  chart("depth", { type: "bar", data: { labels: names, datasets: [{ label: labels.depth, data: column("depth"), backgroundColor: "#2d5bd1" }] } });
  chart("oldest", { type: "bar", data: { labels: names, datasets: [{ label: labels.oldest, data: column("oldest_hours"), backgroundColor: "#b3261e" }] } });
  chart("hourly", { type: "line", data: { labels: figures.decisions_per_hour.labels, datasets: [{ label: labels.hourly, data: figures.decisions_per_hour.counts, borderColor: "#2d5bd1", tension: 0.2 }] } });
  chart("sla", {
    type: "bar",
    data: { labels: names, datasets: [
      { label: labels.met, data: column("sla_met"), backgroundColor: "#2f855a" },
      { label: labels.missed, data: column("sla_missed"), backgroundColor: "#b3261e" }
    ] },
    options: { scales: { x: { stacked: true }, y: { stacked: true } } }
  });
}());
