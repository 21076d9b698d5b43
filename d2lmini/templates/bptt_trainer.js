(function (global) {
  // The bptt page's trainer: a character RNN trained in the browser with full or truncated BPTT.
  // The math below is the page's (and d2lmini.bptt.lm_loss_and_gradients'), in float64; the trainer at the
  // end only calls it. Defined once per page: a second copy of this script leaves the first in place.
  "use strict";
  var ns = global.d2lmini = global.d2lmini || {};  // other d2lmini views may have put things here already
  if (ns.bptt && ns.bptt.mountTrainer) return;
  var api = ns.bptt = ns.bptt || {};
  var NAMES = ["W_xh", "W_hh", "b_h", "W_hq", "b_q"];

  // Shapes and flat copies ---------------------------------------------------------------------------------

  function flatten(rows, nRows, nCols, name) {
    if (!Array.isArray(rows) || rows.length !== nRows) {
      throw new Error(name + " must be an array of " + nRows + " rows");
    }
    var out = new Float64Array(nRows * nCols);
    for (var r = 0; r < nRows; r++) {
      var row = rows[r];
      if (!row || row.length !== nCols) throw new Error(name + " must have " + nCols + " columns in every row");
      for (var c = 0; c < nCols; c++) out[r * nCols + c] = Number(row[c]);
    }
    return out;
  }

  function vector(values, n, name) {
    if (!values || values.length !== n) throw new Error(name + " must have " + n + " entries");
    return Float64Array.from(values, Number);
  }

  function nest(flat, nRows, nCols) {
    var rows = [];
    for (var r = 0; r < nRows; r++) rows.push(Array.from(flat.subarray(r * nCols, (r + 1) * nCols)));
    return rows;
  }

  // Loss and gradients ---------------------------------------------------------------------------------------

  // From a zero state, step t = 1..T (T = tokens.length - 1) reads tokens[t-1] one-hot, computes
  // h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h) and predicts tokens[t] from h_t W_hq + b_q. The loss is the mean
  // cross-entropy of the T predictions. truncation = k cuts the backward pass at the start of every block of
  // k steps (steps 1..k, k+1..2k, ...): the state entering a block is a constant. null means full BPTT.
  // Returns {loss, grads: {W_xh, W_hh, b_h, W_hq, b_q}, stateGradNorms}: nested arrays of doubles, and
  // ||dL/dh_t|| for t = 1..T, the gradient that reached each state.
  function lossAndGradients(params, tokens, truncation) {
    if (!params || !params.W_xh || !params.W_xh.length) throw new Error("params.W_xh must be a V x H array");
    var V = params.W_xh.length, H = params.W_xh[0].length;
    var Wxh = flatten(params.W_xh, V, H, "W_xh"), Whh = flatten(params.W_hh, H, H, "W_hh");
    var bh = vector(params.b_h, H, "b_h"), Whq = flatten(params.W_hq, H, V, "W_hq"), bq = vector(params.b_q, V, "b_q");
    if (!tokens || tokens.length < 2) throw new Error("tokens must hold at least 2 indices");
    for (var n = 0; n < tokens.length; n++) {
      if (!Number.isInteger(tokens[n]) || tokens[n] < 0 || tokens[n] >= V) {
        throw new Error("tokens[" + n + "] = " + tokens[n] + " is not an index in [0, " + V + ")");
      }
    }
    if (truncation !== null && truncation !== undefined && !(Number.isInteger(truncation) && truncation >= 1)) {
      throw new Error("truncation must be null (full BPTT) or an integer k >= 1, got " + truncation);
    }
    var k = truncation === undefined ? null : truncation;
    var T = tokens.length - 1, i, j, v, t;

    // Forward: states hs[t] (hs[0] is the zero state) and the probabilities of every prediction.
    var hs = new Float64Array((T + 1) * H), probs = new Float64Array(T * V), loss = 0;
    var logits = new Float64Array(V);
    for (t = 1; t <= T; t++) {
      var x = tokens[t - 1], prev = (t - 1) * H, cur = t * H;
      for (j = 0; j < H; j++) hs[cur + j] = Wxh[x * H + j] + bh[j];
      for (i = 0; i < H; i++) {
        var hi = hs[prev + i];
        for (j = 0; j < H; j++) hs[cur + j] += hi * Whh[i * H + j];
      }
      for (j = 0; j < H; j++) hs[cur + j] = Math.tanh(hs[cur + j]);
      var top = -Infinity;
      for (v = 0; v < V; v++) {
        var s = bq[v];
        for (i = 0; i < H; i++) s += hs[cur + i] * Whq[i * V + v];
        logits[v] = s;
        if (s > top) top = s;
      }
      var total = 0;
      for (v = 0; v < V; v++) total += Math.exp(logits[v] - top);
      var logZ = top + Math.log(total);
      loss += logZ - logits[tokens[t]];
      for (v = 0; v < V; v++) probs[(t - 1) * V + v] = Math.exp(logits[v] - logZ);
    }
    loss /= T;

    // Backward, from the last step to the first.
    var dWxh = new Float64Array(V * H), dWhh = new Float64Array(H * H), dbh = new Float64Array(H);
    var dWhq = new Float64Array(H * V), dbq = new Float64Array(V), norms = new Array(T);
    var dO = new Float64Array(V), g = new Float64Array(H), a = new Float64Array(H);
    var fromLater = new Float64Array(H);  // what steps after t send back to h_t
    for (t = T; t >= 1; t--) {
      var here = t * H, before = (t - 1) * H, target = tokens[t];
      for (v = 0; v < V; v++) {  // dL/do_t = (p_t - onehot(target)) / T
        dO[v] = (probs[(t - 1) * V + v] - (v === target ? 1 : 0)) / T;
        dbq[v] += dO[v];
      }
      var sq = 0;
      for (i = 0; i < H; i++) {
        var hti = hs[here + i], partial = 0;
        for (v = 0; v < V; v++) {
          dWhq[i * V + v] += hti * dO[v];
          partial += dO[v] * Whq[i * V + v];
        }
        g[i] = partial + fromLater[i];         // total dL/dh_t = own output + later steps
        a[i] = g[i] * (1 - hti * hti);         // back through tanh: dL/dz_t
        sq += g[i] * g[i];
      }
      norms[t - 1] = Math.sqrt(sq);
      var xt = tokens[t - 1];
      for (j = 0; j < H; j++) { dbh[j] += a[j]; dWxh[xt * H + j] += a[j]; }
      for (i = 0; i < H; i++) {
        var hp = hs[before + i];
        for (j = 0; j < H; j++) dWhh[i * H + j] += hp * a[j];
      }
      var cut = t === 1 || (k !== null && (t - 1) % k === 0);  // t starts a block: nothing flows to h_{t-1}
      for (i = 0; i < H; i++) {
        var back = 0;
        if (!cut) for (j = 0; j < H; j++) back += a[j] * Whh[i * H + j];  // a_t W_hh^T
        fromLater[i] = back;
      }
    }
    return {
      loss: loss,
      grads: {W_xh: nest(dWxh, V, H), W_hh: nest(dWhh, H, H), b_h: Array.from(dbh),
              W_hq: nest(dWhq, H, V), b_q: Array.from(dbq)},
      stateGradNorms: norms
    };
  }

  // Seeded initialisation, SGD with clipping, sampling ----------------------------------------------------------

  // mulberry32, a 32-bit generator: the same seed gives the same numbers here and in d2lmini.bptt_trainer.
  function mulberry32(seed) {
    var s = seed >>> 0;
    return function () {
      s = (s + 0x6D2B79F5) >>> 0;
      var z = Math.imul(s ^ (s >>> 15), s | 1) >>> 0;
      z = (z ^ ((z + (Math.imul(z ^ (z >>> 7), z | 61) >>> 0)) >>> 0)) >>> 0;
      return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
    };
  }

  // W_xh uniform in (-1, 1), W_hh and W_hq uniform in (-1/sqrt(H), 1/sqrt(H)), drawn in that order, row by
  // row; the biases start at zero.
  function initParams(vocabSize, numHiddens, seed) {
    var random = mulberry32(seed), H = numHiddens, V = vocabSize, scale = 1 / Math.sqrt(H);
    function uniform(nRows, nCols, bound) {
      var rows = [];
      for (var r = 0; r < nRows; r++) {
        var row = [];
        for (var c = 0; c < nCols; c++) row.push(bound * (2 * random() - 1));
        rows.push(row);
      }
      return rows;
    }
    var W_xh = uniform(V, H, 1), W_hh = uniform(H, H, scale), W_hq = uniform(H, V, scale);
    return {W_xh: W_xh, W_hh: W_hh, b_h: new Array(H).fill(0), W_hq: W_hq, b_q: new Array(V).fill(0)};
  }

  function eachEntry(params, fn) {
    NAMES.forEach(function (name) {
      var p = params[name];
      if (Array.isArray(p[0])) p.forEach(function (row, r) { row.forEach(function (value, c) { fn(name, r, c, value); }); });
      else p.forEach(function (value, c) { fn(name, -1, c, value); });
    });
  }

  // One update: gradients by lossAndGradients, clipped to global norm `clip` (0: no clipping), then
  // params -= lr * scale * grads. Returns the loss before the update and what the update saw.
  function sgdStep(params, tokens, truncation, lr, clip) {
    var out = lossAndGradients(params, tokens, truncation), sq = 0;
    eachEntry(out.grads, function (name, r, c, value) { sq += value * value; });
    var norm = Math.sqrt(sq), clipped = clip > 0 && norm > clip;
    var factor = lr * (clipped ? clip / norm : 1);
    eachEntry(out.grads, function (name, r, c, value) {
      if (r < 0) params[name][c] -= factor * value;
      else params[name][r][c] -= factor * value;
    });
    return {loss: out.loss, gradNorm: norm, clipped: clipped, stateGradNorms: out.stateGradNorms};
  }

  // Read `first`, then write `length` tokens, each drawn from the model's distribution (temperature 1) by
  // inverse transform sampling with mulberry32(seed).
  function sample(params, first, length, seed) {
    var V = params.W_xh.length, H = params.W_xh[0].length, random = mulberry32(seed);
    var h = new Float64Array(H), out = [], x = first, i, j, v;
    for (var n = 0; n < length; n++) {
      var z = new Float64Array(H);
      for (j = 0; j < H; j++) z[j] = params.W_xh[x][j] + params.b_h[j];
      for (i = 0; i < H; i++) for (j = 0; j < H; j++) z[j] += h[i] * params.W_hh[i][j];
      for (j = 0; j < H; j++) h[j] = Math.tanh(z[j]);
      var logits = new Float64Array(V), top = -Infinity, total = 0;
      for (v = 0; v < V; v++) {
        var s = params.b_q[v];
        for (i = 0; i < H; i++) s += h[i] * params.W_hq[i][v];
        logits[v] = s;
        if (s > top) top = s;
      }
      for (v = 0; v < V; v++) { logits[v] = Math.exp(logits[v] - top); total += logits[v]; }
      var u = random(), cumulative = 0, pick = V - 1;
      for (v = 0; v < V; v++) {
        cumulative += logits[v] / total;
        if (u < cumulative) { pick = v; break; }
      }
      out.push(pick);
      x = pick;
    }
    return out;
  }

  api.lossAndGradients = lossAndGradients;
  api.mulberry32 = mulberry32;
  api.initParams = initParams;
  api.sgdStep = sgdStep;
  api.sample = sample;

  // The trainer on the page ----------------------------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 420, HEIGHT = 190, LEFT = 52, RIGHT = 10, TOP = 10, BOTTOM = 34;

  function svgElement(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { el.setAttribute(key, attrs[key]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // Axes, ticks and one polyline; `xs` and `ys` are data, `yTicks` [[value, label]], y already transformed.
  function drawChart(svg, xs, ys, xRange, yRange, yTicks, xLabel, yLabel, marks) {
    svg.textContent = "";
    var w = WIDTH - LEFT - RIGHT, h = HEIGHT - TOP - BOTTOM;
    var px = function (x) { return LEFT + w * (x - xRange[0]) / Math.max(xRange[1] - xRange[0], 1e-12); };
    var py = function (y) { return TOP + h * (1 - (y - yRange[0]) / Math.max(yRange[1] - yRange[0], 1e-12)); };
    svg.appendChild(svgElement("rect", {x: LEFT, y: TOP, width: w, height: h, class: "d2lmini-tr-frame"}));
    (marks || []).forEach(function (x) {
      svg.appendChild(svgElement("line", {x1: px(x), x2: px(x), y1: TOP, y2: TOP + h, class: "d2lmini-tr-mark"}));
    });
    yTicks.forEach(function (tick) {
      var y = py(tick[0]);
      svg.appendChild(svgElement("line", {x1: LEFT - 4, x2: LEFT, y1: y, y2: y, class: "d2lmini-tr-axis"}));
      svg.appendChild(svgElement("text", {x: LEFT - 6, y: y + 4, "text-anchor": "end"}, tick[1]));
    });
    [xRange[0], xRange[1]].forEach(function (x) {
      svg.appendChild(svgElement("text", {x: px(x), y: TOP + h + 14, "text-anchor": "middle"}, String(x)));
    });
    svg.appendChild(svgElement("text", {x: LEFT + w / 2, y: HEIGHT - 4, "text-anchor": "middle"}, xLabel));
    svg.appendChild(svgElement("text", {x: 12, y: TOP + h / 2, "text-anchor": "middle",
                                        transform: "rotate(-90 12 " + (TOP + h / 2) + ")"}, yLabel));
    var points = [];
    for (var n = 0; n < xs.length; n++) {
      if (isFinite(ys[n])) points.push(px(xs[n]).toFixed(1) + "," + py(Math.min(Math.max(ys[n], yRange[0]), yRange[1])).toFixed(1));
    }
    svg.appendChild(svgElement("polyline", {points: points.join(" "), class: "d2lmini-tr-line"}));
  }

  function format(x) {
    if (!isFinite(x)) return String(x);
    return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toPrecision(4);
  }

  function mountTrainer(root, settings) {
    var find = function (role) { return root.querySelector('[data-role="' + role + '"]'); };
    var textBox = find("text"), hiddenBox = find("hidden"), truncationBox = find("truncation"), lrBox = find("lr");
    var clipBox = find("clip"), seedBox = find("seed"), trainButton = find("train"), resetButton = find("reset");
    var message = find("message"), lossOut = find("loss"), stepOut = find("step"), normOut = find("grad-norm");
    var lossChart = find("loss-curve"), normChart = find("grad-norms"), normSummary = find("norms-summary");
    var normTable = find("norms-table"), sampleOut = find("sample");
    var vocab = settings.vocab, index = {};
    Array.from(vocab).forEach(function (ch, i) { index[ch] = i; });
    var state = {params: null, tokens: null, losses: [], gradNorms: [], clipped: [], last: null, remaining: 0,
                 timer: null, seed: 0};
    root.d2lminiTrainer = state;

    function wholeNumber(box, low, high) {
      var n = Number(box.value);
      return box.value !== "" && Number.isInteger(n) && n >= low && n <= high ? n : null;
    }

    function readRate(box, low, high) {
      var x = Number(box.value);
      return box.value !== "" && isFinite(x) && x >= low && x <= high ? x : null;
    }

    function settingsNow() {
      var lr = readRate(lrBox, settings.min_lr, settings.max_lr), clip = readRate(clipBox, 0, settings.max_clip);
      var problems = [];
      if (lr === null) problems.push("the learning rate must be a number from " + settings.min_lr + " to " + settings.max_lr);
      if (clip === null) problems.push("the clipping threshold must be a number from 0 (off) to " + settings.max_clip);
      var k = truncationBox.value === "full" ? null : Number(truncationBox.value);
      return {lr: lr, clip: clip, truncation: k, problems: problems};
    }

    function encode(raw) {  // like the corpus: every run of non-letters becomes one space, then lowercase
      var text = raw.replace(/[^A-Za-z]+/g, " ").toLowerCase();
      return Array.from(text).map(function (ch) { return index[ch]; });
    }

    function reset() {
      stop();
      var H = wholeNumber(hiddenBox, settings.min_hidden, settings.max_hidden);
      var seed = wholeNumber(seedBox, 0, 4294967295);
      var tokens = encode(textBox.value);
      state.params = null;
      if (H === null || seed === null) {
        message.textContent = "Hidden units must be a whole number from " + settings.min_hidden + " to "
          + settings.max_hidden + ", the seed one from 0 to 4294967295.";
      } else if (tokens.length < 2 || tokens.length > settings.max_chars) {
        message.textContent = "The training text must have from 2 to " + settings.max_chars
          + " characters after dropping everything but letters and spaces; it has " + tokens.length + ".";
      } else {
        state.params = initParams(vocab.length, H, seed);
        state.tokens = tokens;
        state.seed = seed;
        message.textContent = "New model: " + H + " hidden units, seed " + seed + ", " + (tokens.length - 1)
          + " predictions per update.";
      }
      state.losses = []; state.gradNorms = []; state.clipped = []; state.last = null;
      render();
    }

    function stop() {
      if (state.timer !== null) clearTimeout(state.timer);
      state.timer = null;
      state.remaining = 0;
      root.setAttribute("data-state", "idle");
      trainButton.textContent = "Train " + settings.steps_per_press + " steps";
    }

    function work() {
      state.timer = null;
      var now = settingsNow(), start = Date.now();
      if (now.problems.length) { message.textContent = "Cannot train: " + now.problems.join("; ") + "."; stop(); return; }
      while (state.remaining > 0 && Date.now() - start < 15) {
        var step = sgdStep(state.params, state.tokens, now.truncation, now.lr, now.clip);
        state.losses.push(step.loss); state.gradNorms.push(step.gradNorm); state.clipped.push(step.clipped);
        state.last = step;
        state.remaining--;
        if (!isFinite(step.loss) || !isFinite(step.gradNorm)) {
          message.textContent = "The loss or the gradient overflowed: training diverged. Turn clipping on, lower "
            + "the learning rate, or reset.";
          state.remaining = 0;
        }
      }
      render();
      if (state.remaining > 0) state.timer = setTimeout(work, 0);  // let the page breathe between chunks
      else stop();
    }

    function train() {
      if (!state.params) reset();
      if (!state.params) return;
      state.remaining += settings.steps_per_press;  // pressed while running: continue for another batch
      root.setAttribute("data-state", "training");
      trainButton.textContent = "Train " + settings.steps_per_press + " more steps";
      if (state.timer === null) state.timer = setTimeout(work, 0);
    }

    function render() {
      var n = state.losses.length, losses = state.losses;
      stepOut.textContent = String(n);
      var current = n ? losses[n - 1] : NaN;
      lossOut.textContent = n ? format(current) : "(not trained yet)";
      lossOut.setAttribute("data-value", n ? String(current) : "");
      var top = 0;
      losses.forEach(function (l) { if (isFinite(l) && l > top) top = l; });
      top = top > 0 ? Math.ceil(top) : 4;
      var yTicks = [0, top / 2, top].map(function (y) { return [y, format(y)]; });
      drawChart(lossChart, losses.map(function (l, i) { return i + 1; }), losses, [1, Math.max(n, 2)], [0, top],
                yTicks, "update", "loss (nats)");
      lossChart.setAttribute("aria-label", n ? "Training loss over " + n + " updates, from " + format(losses[0])
        + " to " + format(current) : "Training loss: no updates yet");
      if (!state.last) {
        normOut.textContent = "(none yet)";
        normSummary.textContent = "";
        normTable.textContent = "";
        normChart.textContent = "";
        normChart.setAttribute("aria-label", "Gradient norms: no update yet");
      } else {
        var last = state.last, norms = last.stateGradNorms, T = norms.length;
        normOut.textContent = format(last.gradNorm) + (last.clipped ? " (clipped)" : "");
        normOut.setAttribute("data-value", String(last.gradNorm));
        var logs = norms.map(function (g) { return Math.log10(Math.max(g, 1e-300)); });
        var finite = logs.filter(isFinite);
        var low = Math.floor(Math.min.apply(null, finite)), high = Math.ceil(Math.max.apply(null, finite));
        if (high - low < 1) high = low + 1;
        var every = Math.ceil((high - low) / 6), ticks = [];
        for (var d = low; d <= high; d += every) ticks.push([d, "1e" + d]);
        var k = settingsNow().truncation, marks = [];
        if (k !== null) for (var s = k + 1; s <= T; s += k) marks.push(s);
        drawChart(normChart, norms.map(function (g, i) { return i + 1; }), logs, [1, Math.max(T, 2)], [low, high],
                  ticks, "time step t", "||dL/dh_t||", marks);
        var largest = 0, smallest = 0;
        norms.forEach(function (g, i) { if (g > norms[largest]) largest = i; if (g < norms[smallest]) smallest = i; });
        var summary = "Last update: ||dL/dh_t|| is " + format(norms[0]) + " at t = 1 and " + format(norms[T - 1])
          + " at t = " + T + "; largest " + format(norms[largest]) + " at t = " + (largest + 1) + ", smallest "
          + format(norms[smallest]) + " at t = " + (smallest + 1) + ".";
        normSummary.textContent = summary;
        normChart.setAttribute("aria-label", "Gradient norm at each time step, log scale. " + summary);
        normTable.textContent = norms.map(function (g, i) { return "t = " + (i + 1) + ": " + g.toExponential(3); }).join("\n");
      }
      if (state.params) {
        var length = Math.min(settings.sample_length, state.tokens.length - 1);
        var drawn = sample(state.params, state.tokens[0], length, state.seed);
        sampleOut.textContent = vocab[state.tokens[0]] + drawn.map(function (v) { return vocab[v]; }).join("");
      } else {
        sampleOut.textContent = "";
      }
    }

    trainButton.addEventListener("click", train);
    resetButton.addEventListener("click", reset);
    [textBox, hiddenBox, seedBox].forEach(function (box) { box.addEventListener("change", reset); });
    [truncationBox, lrBox, clipBox].forEach(function (box) {
      box.addEventListener("change", function () {
        var now = settingsNow();
        message.textContent = now.problems.length ? "Cannot train: " + now.problems.join("; ") + "."
          : "The next updates use " + (now.truncation === null ? "full BPTT" : "blocks of " + now.truncation)
            + ", learning rate " + now.lr + ", " + (now.clip > 0 ? "clipping at " + now.clip : "no clipping") + ".";
      });
    });
    root.addEventListener("keydown", function (event) {  // Escape stops a run
      if (event.key === "Escape" && state.timer !== null) { stop(); message.textContent = "Stopped."; }
    });
    reset();
  }

  api.mountTrainer = mountTrainer;
})(typeof window !== "undefined" ? window : globalThis);
