function (root) {
  // The character RNN of d2lmini, run in the browser. `root` is one playground's element; everything
  // below is found inside it, so several playgrounds on a page do not interfere.
  "use strict";
  var find = function (role) { return root.querySelector('[data-role="' + role + '"]'); };
  var prefixBox = find("prefix"), temperatureBox = find("temperature"), temperatureLabel = find("temperature-value");
  var lengthBox = find("length"), seedBox = find("seed"), resampleButton = find("resample"), message = find("message");
  var table = find("probs").querySelector("tbody"), entropyLine = find("entropy"), continuation = find("continuation");
  var MAX_SEED = Number(seedBox.max), MAX_LENGTH = Number(lengthBox.max), TOP = 10;

  // The model: float32 little-endian arrays, read into float64 so that all arithmetic is in doubles.
  function readArray(entry, shape, name) {
    if (!entry || JSON.stringify(entry.shape) !== JSON.stringify(shape)) {
      throw new Error(name + " should have shape " + JSON.stringify(shape));
    }
    var bytes = atob(entry.data), view = new DataView(new ArrayBuffer(bytes.length));
    for (var b = 0; b < bytes.length; b++) view.setUint8(b, bytes.charCodeAt(b));
    var out = new Float64Array(bytes.length / 4);
    for (var i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  var model, vocab, V, H, Wxh, Whh, bh, Whq, bq, tokenIndex = {};
  try {
    model = JSON.parse(root.querySelector("script[data-d2lmini-model]").textContent);
    vocab = model.vocab; V = vocab.length; H = model.num_hiddens;
    Wxh = readArray(model.W_xh, [V, H], "W_xh");  // (V, H)
    Whh = readArray(model.W_hh, [H, H], "W_hh");  // (H, H)
    bh = readArray(model.b_h, [H], "b_h");        // (H)
    Whq = readArray(model.W_hq, [H, V], "W_hq");  // (H, V)
    bq = readArray(model.b_q, [V], "b_q");        // (V)
    vocab.forEach(function (token, i) { tokenIndex[token] = i; });
  } catch (err) {
    message.textContent = "The embedded model could not be read (" + err.message + ").";
    return;
  }

  // h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h); with a one-hot x_t, x_t W_xh is row x of W_xh.
  function step(h, x) {
    var a = new Float64Array(H), i, j;
    for (j = 0; j < H; j++) a[j] = Wxh[x * H + j] + bh[j];
    for (i = 0; i < H; i++) {
      for (j = 0; j < H; j++) a[j] += h[i] * Whh[i * H + j];
    }
    for (j = 0; j < H; j++) a[j] = Math.tanh(a[j]);
    return a;
  }

  // logits = h_t W_hq + b_q
  function logits(h) {
    var out = new Float64Array(V);
    for (var v = 0; v < V; v++) {
      var sum = bq[v];
      for (var i = 0; i < H; i++) sum += h[i] * Whq[i * V + v];
      out[v] = sum;
    }
    return out;
  }

  // The first largest entry, as torch.argmax picks it.
  function argmax(values) {
    var best = 0;
    for (var v = 1; v < values.length; v++) if (values[v] > values[best]) best = v;
    return best;
  }

  // softmax(logits / T); T = 0 puts all the mass on the argmax (greedy decoding).
  function distribution(scores, temperature) {
    var p = new Float64Array(scores.length), v, total = 0;
    if (temperature === 0) { p[argmax(scores)] = 1; return p; }
    var top = scores[argmax(scores)];
    for (v = 0; v < scores.length; v++) { p[v] = Math.exp((scores[v] - top) / temperature); total += p[v]; }
    for (v = 0; v < scores.length; v++) p[v] /= total;
    return p;
  }

  // mulberry32: a small 32-bit generator, so that a seed always gives the same draws.
  function generator(seed) {
    var state = seed >>> 0;
    return function () {
      state = (state + 0x6D2B79F5) >>> 0;
      var t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  // Inverse transform sampling: the first index whose cumulative probability exceeds u in [0, 1).
  function draw(p, u) {
    var cumulative = 0, last = 0;
    for (var v = 0; v < p.length; v++) {
      if (p[v] > 0) last = v;
      cumulative += p[v];
      if (u < cumulative) return v;
    }
    return last;
  }

  // Like the corpus: every run of non-letters becomes one space, then lowercase.
  function preprocess(text) { return text.replace(/[^A-Za-z]+/g, " ").toLowerCase(); }

  // The characters that preprocessing removes (a space survives as the space of its run).
  function ignoredCharacters(text) {
    var seen = [];
    Array.from(text).forEach(function (ch) {
      if (!/[A-Za-z ]/.test(ch) && seen.indexOf(ch) < 0) seen.push(ch);
    });
    return seen.map(function (ch) { return ch === "\t" ? "tab" : "\u201c" + ch + "\u201d"; });
  }

  function show(token) { return token === " " ? "\u2423 (space)" : token; }

  function wholeNumber(box, maximum) {
    var n = Math.round(Number(box.value));
    return isFinite(n) && box.value !== "" ? Math.min(Math.max(n, 0), maximum) : null;
  }

  function clearOutputs() {
    table.textContent = ""; entropyLine.textContent = ""; continuation.textContent = "";
  }

  function renderTable(p) {
    var order = Array.from(p.keys()).sort(function (a, b) { return p[b] - p[a] || a - b; });
    table.textContent = "";
    order.slice(0, TOP).forEach(function (v) {
      var row = document.createElement("tr"), name = document.createElement("td");
      var prob = document.createElement("td"), barCell = document.createElement("td");
      var bar = document.createElement("div");
      row.setAttribute("data-char", vocab[v]);
      row.setAttribute("data-prob", String(p[v]));
      name.textContent = show(vocab[v]);
      prob.className = "d2lmini-pg-num";
      prob.textContent = p[v].toFixed(4);
      barCell.className = "d2lmini-pg-barcell";
      barCell.setAttribute("aria-hidden", "true");
      bar.className = "d2lmini-pg-bar";
      bar.style.width = (100 * p[v]).toFixed(2) + "%";
      barCell.appendChild(bar);
      row.append(name, prob, barCell);
      table.appendChild(row);
    });
  }

  function renderEntropy(p) {
    var bits = 0;
    p.forEach(function (q) { if (q > 0) bits -= q * Math.log2(q); });
    entropyLine.setAttribute("data-entropy-bits", String(bits));
    entropyLine.textContent = "Entropy: " + bits.toFixed(3) + " bits, as uncertain as a fair choice among "
      + Math.pow(2, bits).toFixed(2) + " characters.";
  }

  function update() {
    var temperature = Number(temperatureBox.value);
    temperatureLabel.textContent = temperature.toFixed(2);
    temperatureBox.setAttribute("aria-valuetext", temperature.toFixed(2) + (temperature === 0 ? " (greedy)" : ""));
    var notes = [], raw = prefixBox.value, text = preprocess(raw);
    var ignored = ignoredCharacters(raw);
    if (ignored.length) notes.push("Ignored, as in the training text: " + ignored.join(" ") + ".");
    var length = wholeNumber(lengthBox, MAX_LENGTH), seed = wholeNumber(seedBox, MAX_SEED);
    if (length === null || seed === null) {
      message.textContent = "Characters to generate must be a whole number from 0 to " + MAX_LENGTH
        + ", the seed one from 0 to " + MAX_SEED + ".";
      clearOutputs();
      return;
    }
    if (text === "") {
      message.textContent = "The prefix is empty: type at least one character for the model to start from.";
      clearOutputs();
      return;
    }
    var unknown = Array.from(text).filter(function (ch, i, all) {
      return !(ch in tokenIndex) && all.indexOf(ch) === i;
    });
    if (unknown.length) {
      message.textContent = "Not in the model's vocabulary: " + unknown.join(", ") + ". Remove them.";
      clearOutputs();
      return;
    }
    if (temperature === 0) notes.push("Temperature 0 is greedy decoding: the seed does not matter.");
    message.textContent = notes.join(" ");

    var h = new Float64Array(H);  // the initial state is zero
    Array.from(text).forEach(function (ch) { h = step(h, tokenIndex[ch]); });
    var p = distribution(logits(h), temperature);
    renderTable(p);
    renderEntropy(p);

    var random = generator(seed), generated = [];
    for (var k = 0; k < length; k++) {
      var x = draw(p, random());
      generated.push(vocab[x]);
      if (k + 1 < length) { h = step(h, x); p = distribution(logits(h), temperature); }
    }
    var start = document.createElement("span"), rest = document.createElement("mark");
    start.textContent = text;
    rest.textContent = generated.join("");
    continuation.textContent = "";
    continuation.append(start, rest);
  }

  resampleButton.addEventListener("click", function () {
    var seed = wholeNumber(seedBox, MAX_SEED);
    seedBox.value = String(seed === null || seed >= MAX_SEED ? 0 : seed + 1);
    update();
  });
  [prefixBox, temperatureBox, lengthBox, seedBox].forEach(function (box) {
    box.addEventListener("input", update);
    box.addEventListener("change", update);
  });
  update();
}
