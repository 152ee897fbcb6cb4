/*
 * weightspace atlas: the map figure, drawn from the serialized Atlas (Atlas.to_dict()).
 *
 * Shared by both renderers of the map: the Dash app (as clientside callbacks registered under
 * window.dash_clientside.weightspace) and the self-contained HTML export (window.WeightspaceAtlas).
 * The Python side never builds the map's traces: it serves the atlas dictionary and this file turns
 * it into plotly traces, so both renderers draw the same points in the same colours.
 */
(function (root) {
  "use strict";

  var TYPED = {
    float32: Float32Array,
    float64: Float64Array,
    int8: Int8Array,
    int16: Int16Array,
    int32: Int32Array,
    uint8: Uint8Array,
    uint16: Uint16Array,
    uint32: Uint32Array,
  };
  var FILTERED_COLOR = "#e6e6e6";
  /** Colour levels of a continuous colouring (finer than the eye tells apart on a map). */
  var LEVELS = 40;
  /** Above this many models the hover texts (a few hundred ms at 100,000) come after the drawing. */
  var LAZY_HOVER = 20000;
  var SELECTION_COLORS = ["#111111", "#c0392b", "#1f5fa8", "#1e8449", "#7d3c98", "#b9770e"];

  /** An encoded array {dtype, shape, b64} as a typed array. */
  function decodeArray(enc) {
    var binary = root.atob(enc.b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TYPED[enc.dtype](bytes.buffer);
  }

  var cache = { key: null, value: null };

  /** The decoded atlas (arrays as typed arrays, columns by name), computed once per atlas. */
  function decoded(data) {
    var key = data.n + ":" + data.title + ":" + data.coords.b64.slice(0, 96);
    if (cache.key === key) return cache.value;
    var coords = decodeArray(data.coords);
    var n = data.n;
    var x = new Float32Array(n);
    var y = new Float32Array(n);
    for (var i = 0; i < n; i++) {
      x[i] = coords[2 * i];
      y[i] = coords[2 * i + 1];
    }
    var columns = {};
    data.columns.forEach(function (c) {
      columns[c.name] = { spec: c, values: decodeArray(c.values) };
    });
    var colorings = {};
    data.colorings.forEach(function (c) {
      colorings[c.column] = c;
    });
    var value = {
      n: n,
      ids: decodeArray(data.ids),
      x: x,
      y: y,
      columns: columns,
      colorings: colorings,
      hover: data.hover,
      text: null,
    };
    cache = { key: key, value: value };
    return value;
  }

  function formatNumber(v) {
    if (v !== v) return "–";
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));  // Number(): Dash's polyfilled parseFloat is slow
  }

  function cellText(col, i) {
    var v = col.values[i];
    if (col.spec.type === "categorical") return v < 0 ? "–" : col.spec.categories[v];
    return formatNumber(v);
  }

  /** Hover text of every point: model id, then the atlas's hover columns. */
  function hoverTexts(d) {
    if (d.text) return d.text;
    var cols = d.hover
      .filter(function (name) {
        return d.columns[name];
      })
      .map(function (name) {
        return d.columns[name];
      });
    var text = new Array(d.n);
    for (var i = 0; i < d.n; i++) {
      var parts = ["<b>model " + d.ids[i] + "</b>"];
      for (var j = 0; j < cols.length; j++) {
        parts.push(cols[j].spec.label + ": " + cellText(cols[j], i));
      }
      text[i] = parts.join("<br>");
    }
    d.text = text;
    return text;
  }

  function markerSize(n) {
    return n <= 2000 ? 7 : n <= 20000 ? 5 : 3;
  }

  function pointsTrace(d, rows, name, marker, extra) {
    var lazy = d.text === null && d.n > LAZY_HOVER;
    var texts = lazy ? null : hoverTexts(d);
    var x = new Float32Array(rows.length);
    var y = new Float32Array(rows.length);
    var text = lazy ? undefined : new Array(rows.length);
    for (var k = 0; k < rows.length; k++) {
      x[k] = d.x[rows[k]];
      y[k] = d.y[rows[k]];
      if (!lazy) text[k] = texts[rows[k]];
    }
    var trace = {
      type: "scattergl",
      mode: "markers",
      meta: "models",
      name: name,
      x: x,
      y: y,
      text: text,
      hoverinfo: lazy ? "none" : "text",
      marker: marker,
    };
    Object.keys(extra || {}).forEach(function (k) {
      trace[k] = extra[k];
    });
    if (lazy && trace.hoverinfo !== "skip") trace.__rows = rows;
    return trace;
  }

  /**
   * Hover texts of a large atlas, added once the map is drawn: find the drawn map (the traces
   * built by mapFigure, still without text), make the texts when the browser is idle and restyle.
   */
  function addHoverLater(d, rowsByTrace) {
    var tries = 0;
    function drawnMap() {
      var plots = document.querySelectorAll(".js-plotly-plot");
      for (var p = 0; p < plots.length; p++) {
        var gd = plots[p];
        if (!gd._fullLayout || !gd.data || gd.data.length !== rowsByTrace.length) continue;
        var same = rowsByTrace.every(function (rows, i) {
          return !rows || (gd.data[i].hoverinfo === "none" && gd.data[i].x.length === rows.length);
        });
        if (same) return gd;
      }
      return null;
    }
    function fill(gd) {
      var texts = hoverTexts(d);
      var update = { text: [], hoverinfo: [] };
      var indices = [];
      rowsByTrace.forEach(function (rows, i) {
        if (!rows) return;
        var text = new Array(rows.length);
        for (var k = 0; k < rows.length; k++) text[k] = texts[rows[k]];
        update.text.push(text);
        update.hoverinfo.push("text");
        indices.push(i);
      });
      root.Plotly.restyle(gd, update, indices);
    }
    function attempt() {
      var gd = drawnMap();
      if (gd) {
        (root.requestIdleCallback || root.setTimeout)(function () { fill(gd); });
      } else if (tries++ < 900) {
        root.requestAnimationFrame(attempt);
      }
    }
    root.requestAnimationFrame(attempt);
  }

  /** Row indices grouped: visible rows by group key, and the rows hidden by the filter. */
  function groupRows(d, mask, keyOf, nGroups) {
    var groups = [];
    for (var g = 0; g < nGroups; g++) groups.push([]);
    var hidden = [];
    for (var i = 0; i < d.n; i++) {
      if (mask && !mask[i]) hidden.push(i);
      else groups[keyOf(i)].push(i);
    }
    return { groups: groups, hidden: hidden };
  }

  function colorTraces(d, coloring, mask, size) {
    var col = coloring ? d.columns[coloring.column] : null;
    var traces = [];
    var grouped;
    if (!col) {
      grouped = groupRows(d, mask, function () { return 0; }, 1);
      traces.push(pointsTrace(d, grouped.groups[0], "models", { size: size, color: "#1f77b4" }));
    } else if (coloring.type === "categorical") {
      var m = col.spec.categories.length;
      grouped = groupRows(d, mask, function (i) {
        var v = col.values[i];
        return v < 0 ? m : v;
      }, m + 1);
      for (var c = 0; c <= m; c++) {
        if (!grouped.groups[c].length) continue;
        var label = c < m ? col.spec.categories[c] : "(missing)";
        var color = c < m ? coloring.colors[c] : coloring.missing_color;
        traces.push(
          pointsTrace(d, grouped.groups[c], label, { size: size, color: color, opacity: 0.85 }, {
            legendgroup: label,
          })
        );
      }
    } else {
      // Numbers are drawn as LEVELS traces of one colour each (plotly would parse one colour
      // string per point, the slowest part of drawing 100,000 points), plus a colour bar. Higher
      // values are drawn last, on top (good models stay visible in dense regions).
      var lo = coloring.cmin === null ? 0 : coloring.cmin;
      var hi = coloring.cmax === null || coloring.cmax <= lo ? lo + 1 : coloring.cmax;
      grouped = groupRows(d, mask, function (i) {
        var v = col.values[i];
        if (v !== v) return LEVELS;
        var level = Math.floor(((v - lo) / (hi - lo)) * LEVELS);
        return level < 0 ? 0 : level >= LEVELS ? LEVELS - 1 : level;
      }, LEVELS + 1);
      for (var level = 0; level < LEVELS; level++) {
        if (!grouped.groups[level].length) continue;
        var color = scaleColor(coloring.colorscale, (level + 0.5) / LEVELS);
        traces.push(
          pointsTrace(d, grouped.groups[level], coloring.label, { size: size, color: color }, {
            showlegend: false,
            legendgroup: "scale",
          })
        );
      }
      traces.push(colorBarTrace(coloring, lo, hi));
      if (grouped.groups[LEVELS].length) {
        traces.push(
          pointsTrace(d, grouped.groups[LEVELS], "(missing)", {
            size: size,
            color: coloring.missing_color,
          })
        );
      }
    }
    if (grouped.hidden.length) {
      traces.unshift(
        pointsTrace(d, grouped.hidden, "filtered out", { size: size, color: FILTERED_COLOR }, {
          hoverinfo: "skip",
          meta: "filtered",
        })
      );
    }
    return traces;
  }

  /** The colour at position t in [0, 1] of a colour scale [[position, "#rrggbb"], ...]. */
  function scaleColor(scale, t) {
    var k = 1;
    while (k < scale.length - 1 && scale[k][0] < t) k++;
    var a = scale[k - 1];
    var b = scale[k];
    var f = b[0] > a[0] ? (t - a[0]) / (b[0] - a[0]) : 0;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    var out = "#";
    for (var c = 1; c < 7; c += 2) {
      var va = parseInt(a[1].slice(c, c + 2), 16);
      var vb = parseInt(b[1].slice(c, c + 2), 16);
      var v = Math.round(va + (vb - va) * f);
      out += (v < 16 ? "0" : "") + v.toString(16);
    }
    return out;
  }

  /** An invisible trace that only draws the colour bar of a continuous colouring. */
  function colorBarTrace(coloring, lo, hi) {
    return {
      type: "scattergl",
      mode: "markers",
      meta: "colorbar",
      name: coloring.label,
      x: [null],
      y: [null],
      hoverinfo: "skip",
      showlegend: false,
      marker: {
        color: [lo, hi],
        cmin: lo,
        cmax: hi,
        colorscale: coloring.colorscale,
        showscale: true,
        size: 0,
        colorbar: { title: { text: coloring.label, side: "right" }, thickness: 14, len: 0.8 },
      },
    };
  }

  function selectionShapes(selections) {
    var shapes = [];
    var annotations = [];
    (selections || []).forEach(function (sel, k) {
      var color = sel.color || SELECTION_COLORS[k % SELECTION_COLORS.length];
      var line = { color: color, width: 2, dash: "dot" };
      var g = sel.geometry || {};
      var ax;
      var ay;
      if (g.range) {
        var xs = g.range.x.slice().sort(function (a, b) { return a - b; });
        var ys = g.range.y.slice().sort(function (a, b) { return a - b; });
        shapes.push({ type: "rect", xref: "x", yref: "y", x0: xs[0], x1: xs[1], y0: ys[0], y1: ys[1], line: line });
        ax = xs[0];
        ay = ys[1];
      } else if (g.lassoPoints) {
        var px = g.lassoPoints.x;
        var py = g.lassoPoints.y;
        var path = "M" + px.map(function (v, i) { return v + "," + py[i]; }).join("L") + "Z";
        shapes.push({ type: "path", xref: "x", yref: "y", path: path, line: line });
        var top = 0;
        for (var i = 1; i < py.length; i++) if (py[i] > py[top]) top = i;
        ax = px[top];
        ay = py[top];
      } else {
        return;
      }
      annotations.push({
        x: ax, y: ay, xref: "x", yref: "y", text: "<b>" + sel.name + "</b>", showarrow: false,
        xanchor: "left", yanchor: "bottom", font: { size: 15, color: color },
        bgcolor: "rgba(255,255,255,0.85)",
      });
    });
    return { shapes: shapes, annotations: annotations };
  }

  function placedTraces(d, placed) {
    if (!placed || !placed.length) return [];
    var nx = [];
    var ny = [];
    var ntext = [];
    var texts = hoverTexts(d);
    placed.forEach(function (p) {
      (p.neighbors || []).forEach(function (row) {
        nx.push(d.x[row]);
        ny.push(d.y[row]);
        ntext.push("nearest to " + p.name + "<br>" + texts[row]);
      });
    });
    return [
      {
        type: "scatter", mode: "markers", meta: "nearest", name: "nearest models", x: nx, y: ny, text: ntext,
        hoverinfo: "text", marker: { size: 14, color: "rgba(0,0,0,0)", line: { color: "#111", width: 2 } },
      },
      {
        type: "scatter", mode: "markers+text", meta: "uploaded", name: "uploaded",
        x: placed.map(function (p) { return p.x; }),
        y: placed.map(function (p) { return p.y; }),
        text: placed.map(function (p) { return p.name; }),
        textposition: "middle left",
        hovertext: placed.map(function (p) { return "<b>uploaded: " + p.name + "</b>"; }),
        hoverinfo: "text",
        marker: { symbol: "star", size: 20, color: "#ffd400", line: { color: "#111", width: 1.5 } },
      },
    ];
  }

  /**
   * The map as a plotly figure {data, layout}.
   *
   * options.mask: Uint8Array (1 = shown) or an encoded array or null; options.selections: kept
   * selections [{name, geometry}]; options.placed: uploaded models [{name, x, y, neighbors}];
   * options.dragmode: "select" (default), "lasso", "zoom" or "pan".
   */
  function mapFigure(data, colorBy, options) {
    options = options || {};
    var d = decoded(data);
    var coloring = d.colorings[colorBy] || data.colorings[0] || null;
    var mask = options.mask || null;
    if (mask && mask.b64) mask = decodeArray(mask);
    var traces = colorTraces(d, coloring, mask, markerSize(d.n));
    var marks = selectionShapes(options.selections);
    traces = traces.concat(placedTraces(d, options.placed));
    var lazyRows = traces.map(function (t) {
      var rows = t.__rows || null;
      delete t.__rows;
      return rows;
    });
    if (lazyRows.some(Boolean)) addHoverLater(d, lazyRows);
    var axis = { showgrid: false, zeroline: false, showticklabels: false, title: { text: "" } };
    var continuous = coloring && coloring.type === "continuous";
    var layout = {
      margin: { l: 8, r: 8, t: 30, b: 8 },  // the top margin keeps the mode bar off the legend
      xaxis: axis,
      yaxis: axis,
      dragmode: options.dragmode || "select",
      hovermode: "closest",
      plot_bgcolor: "#fbfbfb",
      paper_bgcolor: "#ffffff",
      showlegend: true,
      // categories: a titled legend on the right; numbers: the colour bar is on the right, so the
      // few legend entries (filtered out, missing, uploaded) go in a row below the map
      legend: continuous
        ? { orientation: "h", x: 0, y: 0, yanchor: "top", itemsizing: "constant",
            title: { text: "" } }
        : { title: { text: coloring ? coloring.label : "" }, itemsizing: "constant",
            bgcolor: "rgba(255,255,255,0.8)" },
      shapes: marks.shapes,
      annotations: marks.annotations,
      uirevision: "atlas",
    };
    return { data: traces, layout: layout };
  }

  /** Only the geometry of plotly's selectedData (the per-point list stays in the browser). */
  function selectionGeometry(selected) {
    if (!selected) return null;
    if (selected.range && selected.range.x && selected.range.y) {
      return { range: { x: selected.range.x, y: selected.range.y } };
    }
    if (selected.lassoPoints && selected.lassoPoints.x) {
      return { lassoPoints: { x: selected.lassoPoints.x, y: selected.lassoPoints.y } };
    }
    return null;
  }

  root.WeightspaceAtlas = {
    decodeArray: decodeArray,
    mapFigure: mapFigure,
    selectionGeometry: selectionGeometry,
  };

  root.dash_clientside = Object.assign({}, root.dash_clientside, {
    weightspace: {
      map_figure: function (data, colorBy, mask, selections, placed) {
        if (!data) return { data: [], layout: {} };
        return mapFigure(data, colorBy, { mask: mask, selections: selections, placed: placed });
      },
      selection_geometry: function (selected) {
        var g = selectionGeometry(selected);
        return g === null ? root.dash_clientside.no_update : g;
      },
    },
  });
})(window);
