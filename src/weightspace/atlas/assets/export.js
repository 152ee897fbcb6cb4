/*
 * Bootstrap of the self-contained HTML export: reads the embedded atlas (Atlas.to_dict) and draws
 * it with WeightspaceAtlas.mapFigure (atlas.js), the same code the Dash app runs.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("atlas-data").textContent);
  var options = JSON.parse(document.getElementById("atlas-options").textContent);
  var select = document.getElementById("color-by");
  data.colorings.forEach(function (c) {
    var opt = document.createElement("option");
    opt.value = c.column;
    opt.textContent = c.label;
    select.appendChild(opt);
  });
  if (options.color_by) select.value = options.color_by;
  var config = { responsive: true, displaylogo: false, scrollZoom: true };

  function draw() {
    var fig = window.WeightspaceAtlas.mapFigure(data, select.value, { dragmode: "zoom" });
    window.Plotly.react("atlas-map", fig.data, fig.layout, config);
  }

  select.addEventListener("change", draw);
  draw();
})();
