/* ersim what-if explorer: the engine's deterministic arithmetic in the browser.
 *
 * A port of sim/model/compile.py (Model.slot_values, Model.inputs_from_matrix),
 * sim/core/engine.py (grown activity, activity edits, treatment, controls multiplying on their
 * shares, sequential attribution) and sim/model/feasibility.py (targets, status), in float64
 * and in the same order of operations. Units: activity in each pool's unit, emissions t/a,
 * margins t (µg/m³ for concentration targets).
 */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("ersim-data").textContent);
  var RETIRE = 0, SWITCH = 1, CONTROL = 2, STANDARD = 3, TREAT = 4;
  var K = D.pools.length, M = D.measures.length, P = D.pollutants.length, Y = D.years.length;
  var paramIndex = {};
  D.params.forEach(function (p, i) { paramIndex[p.name] = i; });

  // ---- model: parameters -> engine inputs (compile.py) ----------------------------------
  function evalTree(t, x) {
    switch (t[0]) {
      case "n": return t[1];
      case "p": return x[t[1]];
      case "neg": return -evalTree(t[1], x);
      case "s": return evalTree(t[2], x) * t[1];
      case "+": return evalTree(t[1], x) + evalTree(t[2], x);
      case "-": return evalTree(t[1], x) - evalTree(t[2], x);
      case "*": return evalTree(t[1], x) * evalTree(t[2], x);
      case "/": { var a = evalTree(t[1], x), b = evalTree(t[2], x); return b ? a / b : NaN; }
    }
    throw new Error("bad formula node " + t[0]);
  }

  function slotValues(x) {
    var kv = D.keys.map(function (k) { return evalTree(k.tree, x); });
    var out = new Float64Array(D.slots.length);
    var seen = new Uint8Array(D.slots.length);
    for (var i = 0; i < D.terms.length; i++) {
      var s = D.terms[i][0], coef = D.terms[i][1], ks = D.terms[i][2], v;
      if (ks.length === 0) v = coef;
      else if (ks.length === 1 && ks[0][1] === 1) v = coef * kv[ks[0][0]];
      else {  // coef * exp(sum e*log|v|), sign by parity: as Model.slot_values
        var lg = 0, neg = 0;
        for (var j = 0; j < ks.length; j++) {
          var val = kv[ks[j][0]], e = ks[j][1];
          var l = Math.log(Math.abs(val));
          if (l === -Infinity) l = -745.0;
          lg += l * e;
          if (val < 0) neg += Math.abs(e);
        }
        v = coef * Math.exp(lg);
        if (neg % 2 === 1) v = -v;
      }
      out[s] = seen[s] ? out[s] + v : v;
      seen[s] = 1;
    }
    return out;
  }

  function grid(rows, cols, fill) {
    var a = [];
    for (var i = 0; i < rows; i++) { var r = new Float64Array(cols); if (fill !== undefined) r.fill(fill); a.push(r); }
    return a;
  }

  function engineInputs(x) {
    var sv = slotValues(x);
    var ef = grid(K, P), eff = grid(M, P), removal = grid(M, P), newef = grid(M, P, NaN);
    var conv = new Float64Array(M).fill(1.0);
    D.slots.forEach(function (sl, i) {
      var pre = sl[0], r = sl[1], c = sl[2];
      if (pre === "ef") ef[r][c] = sv[i];
      else if (pre === "eff") eff[r][c] = sv[i];
      else if (pre === "removal") removal[r][c] = sv[i];
      else if (pre === "newef") newef[r][c] = sv[i];
      else if (pre === "conv") conv[r] = sv[i];
    });
    var cut = eff, qty = new Float64Array(M), share = new Float64Array(M), impl = [];
    D.measures.forEach(function (m, j) {
      if (m.kind === STANDARD) {  // a standard binds only where it is stricter than the pool's factor
        for (var p = 0; p < P; p++) {
          var pe = ef[m.src][p], n = newef[j][p], ratio = isNaN(n) ? 1.0 : n / pe;
          if (isNaN(ratio) || ratio === Infinity) ratio = 1.0;
          cut[j][p] = pe > 0 ? Math.min(Math.max(1.0 - ratio, 0.0), 1.0) : 0.0;
        }
      }
      qty[j] = m.qty === null ? NaN : m.qty;
      share[j] = m.share === null ? NaN : x[m.share];
      if (m.qty_param !== null) {
        var sc = x[m.qty_param];
        if (sc !== 1.0) {
          qty[j] = qty[j] * sc;
          for (var q = 0; q < P; q++) removal[j][q] = removal[j][q] * sc;
        }
      }
      var comp = x[m.completion], row = new Float64Array(Y);
      for (var y = 0; y < Y; y++) row[y] = comp * m.credit[y];
      impl.push(row);
    });
    var growth = D.pools.map(function (pl) { return x[pl.growth]; });
    return { ef: ef, cut: cut, removal: removal, conv: conv, qty: qty, share: share, implemented: impl, growth: growth };
  }

  // ---- engine (engine.py) ---------------------------------------------------------------
  function grownActivity(inp) {
    var anyGrowth = inp.growth.some(function (g) { return g !== 0; });
    return D.pools.map(function (pl, k) {
      var row = new Float64Array(Y);
      for (var y = 0; y < Y; y++) row[y] = anyGrowth ? pl.activity0 * Math.pow(1.0 + inp.growth[k], D.offset[y]) : pl.activity0;
      return row;
    });
  }

  // activity after retire/switch edits [K][Y]; f[m][y] = implemented x mask
  function editedActivity(inp, f, a) {
    var gained = grid(K, Y), moved = grid(K, Y), any = false;
    D.measures.forEach(function (m, j) {
      if (m.kind !== RETIRE && m.kind !== SWITCH) return;
      any = true;
      var q = isNaN(inp.qty[j]) ? 0.0 : inp.qty[j];
      for (var y = 0; y < Y; y++) {
        var mv = q * f[j][y];
        moved[m.src][y] += mv;
        if (m.tgt >= 0) gained[m.tgt][y] += mv * inp.conv[j];
      }
    });
    if (!any) return a;
    return a.map(function (row, k) {
      var out = new Float64Array(Y);
      for (var y = 0; y < Y; y++) out[y] = Math.max(row[y] + (gained[k][y] - moved[k][y]), 0.0);
      return out;
    });
  }

  // covered share of a control/standard measure in year y (of the grown baseline activity)
  function cover(inp, f, a, j, y) {
    var m = D.measures[j], c;
    if (isNaN(inp.qty[j])) c = isNaN(inp.share[j]) ? 0.0 : inp.share[j];
    else { var as = a[m.src][y]; c = inp.qty[j] / (as > 0 ? as : Infinity); }
    return Math.min(Math.max(c, 0.0), 1.0) * f[j][y];
  }

  // The controls' multiplier on pool k's emission of pollutant p in year y: measures on one
  // pool act on the same share, so their factors multiply (in listed order).
  function poolMultiplier(inp, f, a, ctl, p, y) {
    var prod = 1.0, first = true;
    for (var i = 0; i < ctl.length; i++) {
      var j = ctl[i];
      var factor = Math.max(1.0 - cover(inp, f, a, j, y) * Math.min(inp.cut[j][p], 1.0), 0.0);
      prod = first ? factor : prod * factor;
      first = false;
    }
    return prod;
  }

  var onPool = D.pools.map(function () { return { treat: [], ctl: [] }; });
  D.measures.forEach(function (m, j) {
    if (m.kind === TREAT) onPool[m.src].treat.push(j);
    else if (m.kind === CONTROL || m.kind === STANDARD) onPool[m.src].ctl.push(j);
  });

  // emissions of pool k [P][Y] in t/a (engine._pool_emissions)
  function poolEmissions(inp, f, a, aEff, k) {
    var out = grid(P, Y), tr = onPool[k].treat, ctl = onPool[k].ctl;
    for (var p = 0; p < P; p++) {
      for (var y = 0; y < Y; y++) {
        var e = aEff[k][y] * inp.ef[k][p];
        if (tr.length) {
          var rem = 0.0;
          for (var i = 0; i < tr.length; i++) rem = i ? rem + inp.removal[tr[i]][p] * f[tr[i]][y] : inp.removal[tr[i]][p] * f[tr[i]][y];
          e = Math.max(e - rem, 0.0);
        }
        if (ctl.length) e = e * poolMultiplier(inp, f, a, ctl, p, y);
        out[p][y] = e;
      }
    }
    return out;
  }

  function masked(inp, mask) {
    return inp.implemented.map(function (row, j) {
      var r = new Float64Array(Y);
      for (var y = 0; y < Y; y++) r[y] = row[y] * mask[j];
      return r;
    });
  }

  function sumPools(inp, f, a, pools) {
    var aEff = editedActivity(inp, f, a), tot = grid(P, Y);
    pools.forEach(function (k) {
      var e = poolEmissions(inp, f, a, aEff, k);
      for (var p = 0; p < P; p++) for (var y = 0; y < Y; y++) tot[p][y] += e[p][y];
    });
    return tot;
  }

  // ---- targets (feasibility.py) ---------------------------------------------------------
  function evaluateTargets(base, emis, x, values) {
    return D.targets.map(function (t, i) {
      var v = values[i], req, ach;
      var ey = emis[t.p][t.y], by = base[t.p][t.y];
      if (t.kind === "reduction_percent") { var er = emis[t.p][t.ref]; req = v * er; ach = er - ey; }
      else if (t.kind === "reduction_amount") { req = v; ach = by - ey; }
      else if (t.kind === "cap") { req = by - v; ach = by - ey; }
      else {
        var c0 = x[D.air.base], drop = 0.0;
        t.precursors.forEach(function (pr) {
          var name = pr[0], p = pr[1], form = pr[2];
          var eRef = emis[p][t.ref], dE = eRef - emis[p][t.y];
          if (form === "share") drop += eRef > 0 ? c0 * x[D.air[name]] * dE / eRef : 0.0;
          else drop += x[D.air[name]] * dE;
        });
        req = c0 - v; ach = drop;
      }
      return { req: req, ach: ach };
    });
  }

  function status(margin, required) {
    var tol = 1e-9 * Math.max(1.0, Math.abs(required));
    if (Math.abs(margin) <= tol) margin = 0.0;
    if (margin < 0) return "not met";
    if (margin < D.settings.at_risk_margin * Math.abs(required)) return "at risk";
    return "met";
  }

  // one evaluation: totals [P][Y], reductions by measure [M][P][Y], targets
  function evaluate(x, values) {
    var inp = engineInputs(x), a = grownActivity(inp);
    var all = [], k, p, y;
    for (k = 0; k < K; k++) all.push(k);
    var ones = new Float64Array(M).fill(1.0);
    var base = grid(P, Y);
    for (k = 0; k < K; k++) for (p = 0; p < P; p++) for (y = 0; y < Y; y++) base[p][y] += a[k][y] * inp.ef[k][p];
    var emis = sumPools(inp, masked(inp, ones), a, all);
    var red = D.measures.map(function () { return grid(P, Y); });
    D.components.forEach(function (cp) {  // sequential attribution per group of linked pools
      var ms = cp[0], pools = cp[1], mask = new Float64Array(M), prev = null;
      for (var i = 0; i <= ms.length; i++) {
        if (i > 0) mask[ms[i - 1]] = 1.0;
        var tot = sumPools(inp, masked(inp, mask), a, pools);
        if (prev) for (p = 0; p < P; p++) for (y = 0; y < Y; y++) red[ms[i - 1]][p][y] = prev[p][y] - tot[p][y];
        prev = tot;
      }
    });
    var tg = evaluateTargets(base, emis, x, values).map(function (r, i) {
      var t = D.targets[i], margin = r.ach - r.req;
      return { id: t.id, name: t.name, required: r.req, achieved: r.ach, margin: margin, unit: t.unit, status: status(margin, r.req) };
    });
    return { baseline: base, emissions: emis, reduction: red, targets: tg, limits: limits(inp, a) };
  }

  // measures that take more than their pool holds (ersim run refuses such a scenario; the
  // engine clips the pool at zero)
  function limits(inp, a) {
    var out = [], f = inp.implemented;
    for (var k = 0; k < K; k++) {
      for (var y = 0; y < Y; y++) {
        var moved = 0.0, gain = 0.0, names = [];
        D.measures.forEach(function (m, j) {
          if (m.kind !== RETIRE && m.kind !== SWITCH) return;
          var mv = (isNaN(inp.qty[j]) ? 0.0 : inp.qty[j]) * f[j][y];
          if (m.src === k) { moved += mv; if (mv > 0) names.push(m.name); }
          if (m.tgt === k) gain += mv * inp.conv[j];
        });
        if (moved > (a[k][y] + gain) * (1 + 1e-9)) {
          out.push({ pool: D.pools[k].id, year: D.years[y], measures: names, takes: moved, holds: a[k][y] + gain, unit: D.pools[k].unit });
          break;
        }
      }
    }
    D.measures.forEach(function (m, j) {
      if ((m.kind !== CONTROL && m.kind !== STANDARD) || isNaN(inp.qty[j])) return;
      for (var y = 0; y < Y; y++) {
        if (m.credit[y] > 0 && inp.qty[j] > a[m.src][y] * (1 + 1e-9)) {
          out.push({ pool: D.pools[m.src].id, year: D.years[y], measures: [m.name], takes: inp.qty[j], holds: a[m.src][y], unit: D.pools[m.src].unit });
          break;
        }
      }
    });
    return out;
  }

  function renderLimits(r) {
    var box = document.getElementById("limits");
    box.textContent = "";
    if (D.targets.some(function (t) { return t.kind === "concentration"; })) box.appendChild(el("p", { cls: "note", text: L.conc }));
    r.limits.forEach(function (w) {
      box.appendChild(el("p", { cls: "warn", text: (ZH
        ? "注意：" + w.measures.join("、") + " 在" + w.year + "年需要 " + num(w.takes) + " " + w.unit + "，超过源类 " + w.pool + " 的 " + num(w.holds) + " " + w.unit + "（ersim run 会拒绝此设置；页面按源类清零计算）"
        : "Note: " + w.measures.join(", ") + " take " + num(w.takes) + " " + w.unit + " in " + w.year + ", more than pool " + w.pool + " holds (" + num(w.holds) + " " + w.unit + "); ersim run refuses this setting, the page clips the pool at zero") }));
    });
  }

  // ---- state: the parameter row and the targets' values -----------------------------------
  var central = D.params.map(function (p) { return p.value; });
  var centralValues = D.targets.map(function (t) { return t.value; });
  var x = central.slice(), values = centralValues.slice(), current = null;
  var controlByPath = {};
  D.controls.forEach(function (c) { controlByPath[c.path] = c; });

  function toNumber(v, c) {  // "95%" is 0.95 of a fraction, 95 of a coefficient in %
    if (typeof v === "number") return v;
    var s = String(v).trim();
    if (s.slice(-1) === "%") return parseFloat(s.slice(0, -1)) / (c && !c.fraction && c.unit === "%" ? 1 : 100);
    return parseFloat(s);
  }

  // the settings in each input's own unit (completion/share/growth fractions, quantity in the
  // measure's unit, target values in t, a fraction or µg/m³), path -> value; x follows them
  var setting = {};
  function initSettings() { D.controls.forEach(function (c) { setting[c.path] = c.value; }); }
  initSettings();

  function getPath(path) {
    if (!(path in setting)) throw new Error("unknown path " + path);
    return setting[path];
  }

  function paramOf(c) {
    if (c.group === "measures") return c.field === "quantity" ? "qty:" + c.measure : c.field + ":" + c.measure;
    if (c.group === "coefficients") return "coef:" + c.key;
    if (c.group === "growth") return "growth:" + D.pools[c.pool].id;
    return null;
  }

  function setPath(path, value, quiet) {
    var c = controlByPath[path];
    if (!c) {
      var head = String(path).split(".")[0];
      throw new Error("unknown path " + path + (["measures", "coefficients", "growth", "targets"].indexOf(head) < 0
        ? ": a path starts with measures., coefficients., growth. or targets." : didYouMean(String(path))));
    }
    var v = toNumber(value, c);
    if (!isFinite(v)) throw new Error(path + ": " + value + " is not a number");
    setting[path] = v;
    if (c.group === "targets") values[c.target] = v;
    else if (c.field === "quantity") x[paramIndex[paramOf(c)]] = v * c.scale;  // as SweepAxis.scale
    else x[paramIndex[paramOf(c)]] = v;
    if (!quiet) refresh();
    return api;
  }

  function distance(a, b) {  // Levenshtein
    var prev = [], cur, i, j;
    for (j = 0; j <= b.length; j++) prev.push(j);
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      for (j = 1; j <= b.length; j++) cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
      prev = cur;
    }
    return prev[b.length];
  }

  function didYouMean(path) {
    var best = null, bestD = Infinity;
    D.controls.forEach(function (c) { var d = distance(path, c.path); if (d < bestD) { bestD = d; best = c.path; } });
    return best !== null && bestD <= Math.max(3, path.length / 4) ? " (did you mean " + best + "?)" : "";
  }

  function reset() { x = central.slice(); values = centralValues.slice(); initSettings(); refresh(); return api; }

  function changed() {
    return D.controls.filter(function (c) { return getPath(c.path) !== c.value; })
      .map(function (c) { return { path: c.path, value: getPath(c.path), run: c.value }; });
  }

  // ---- save as scenario: the run's whole scenario with the page's changes ------------------
  function fmt(v) { return String(v); }
  function q(s) { return JSON.stringify(String(s)); }

  function changes() {
    var meas = {}, coefs = {}, growth = {}, targets = [];
    changed().forEach(function (ch) {
      var c = controlByPath[ch.path];
      if (c.group === "measures") {
        meas[c.measure] = meas[c.measure] || { id: c.measure };
        if (c.field === "quantity") meas[c.measure].quantity = fmt(ch.value) + (c.unit ? " " + c.unit : "");
        else {
          var keep = c.low !== null && c.high !== null && c.low <= ch.value && ch.value <= c.high;
          meas[c.measure][c.field] = keep ? { value: ch.value, low: c.low, high: c.high } : ch.value;
        }
      } else if (c.group === "coefficients") {
        var o = { value: ch.value, unit: c.unit || "1", source: "ersim explore: what-if setting on run " + D.run_id };
        if (c.min <= ch.value && ch.value <= c.max) { o.low = c.min; o.high = c.max; }
        coefs[c.key] = o;
      } else if (c.group === "growth") growth[D.pools[c.pool].id] = ch.value;
      else {
        var t = D.targets[c.target], tv;
        if (t.kind === "reduction_percent") tv = fmt(ch.value);
        else if (t.kind === "concentration") tv = fmt(ch.value) + " ug/m3";
        else tv = fmt(ch.value) + " t";
        targets.push({ id: t.id, value: tv });
      }
    });
    var out = {};
    var ms = Object.keys(meas).map(function (k) { return meas[k]; });
    if (ms.length) out.measures = ms;
    if (Object.keys(coefs).length) out.coefficients = coefs;
    if (targets.length) out.targets = targets;
    if (Object.keys(growth).length) {
      out.inventory = D.scenario.doc.inventory.map(function (pl) {
        if (!(pl.id in growth)) return pl;
        var g = growth[pl.id], old = pl.growth || {}, ng = { value: g };
        if (old.low !== undefined && old.high !== undefined && old.low <= g && g <= old.high) {
          ng.low = old.low; ng.high = old.high; if (old.distribution) ng.distribution = old.distribution;
        }
        var copy = JSON.parse(JSON.stringify(pl)); copy.growth = ng; return copy;
      });
    }
    return out;
  }

  function yaml() {
    // the whole scenario of the run with the changes applied: the file runs wherever it is
    // saved, without the run's scenario file (a page is emailed; paths are the sender's)
    var ch = changes(), lines = [], zh = D.lang === "zh";
    var name = D.scenario.name + (zh ? "（情景推演）" : " (what-if)");
    lines.push("# " + (zh ? "由 ersim explore 生成：运行 " + D.run_id + "（情景 " + D.scenario.id + "）的完整情景，改动如下"
                           : "written by ersim explore: the whole scenario of run " + D.run_id + " (scenario " + D.scenario.id + "), changed as follows"));
    var diffs = changed();
    if (!diffs.length) lines.push("#   " + (zh ? "（无改动）" : "(no changes)"));
    diffs.forEach(function (d) {
      var c = controlByPath[d.path];
      function shown(v) { return c.fraction ? fmt(Math.round(v * 1e8) / 1e6) + c.unit : fmt(v) + (c.unit ? " " + c.unit : ""); }
      lines.push("#   " + d.path.replace(/[\r\n]/g, " ") + ": " + shown(d.run) + " -> " + shown(d.value));
    });
    (D.scenario.needs || []).forEach(function (f) {
      lines.push("# " + (zh ? "需要 PM2.5 响应表 " + f + "，与本文件放在同一文件夹" : "needs the PM2.5 response table " + f + " in the same folder as this file"));
    });
    var doc = JSON.parse(JSON.stringify(D.scenario.doc));
    doc.id = D.scenario.id + "-whatif";
    doc.name = name;
    (ch.measures || []).forEach(function (e) {
      doc.measures.forEach(function (m) { if (m.id === e.id) Object.keys(e).forEach(function (f) { m[f] = e[f]; }); });
    });
    (ch.targets || []).forEach(function (e) {
      doc.targets.forEach(function (t) { if (t.id === e.id) t.value = e.value; });
    });
    if (ch.coefficients) { doc.coefficients = doc.coefficients || {}; Object.keys(ch.coefficients).forEach(function (k) { doc.coefficients[k] = ch.coefficients[k]; }); }
    if (ch.inventory) doc.inventory = ch.inventory;
    return lines.join("\n") + "\n" + JSON.stringify(doc, null, 2) + "\n";
  }

  // ---- the page ---------------------------------------------------------------------------
  var ZH = D.lang === "zh";
  var L = ZH ? {
    measures: "措施", coefficients: "不确定系数", growth: "新增量（活动水平年增长率）", targets: "目标值",
    completion: "完成率", quantity: "工程量", share: "覆盖比例", target: "目标", required: "需削减", achieved: "已削减",
    margin: "余量", status: "结论", run: "原运行", change: "变化", met: "达标", "at risk": "有风险", "not met": "未达标",
    reset: "恢复原运行设置", save: "另存为情景(YAML)", waterfall: "排放变化", base: "年排放", growthStep: "新增量",
    other: "其他措施", reductions: "各措施减排量", unitTa: "吨/年", changed: "已修改的设置", none: "无（与原运行相同）",
    range: "范围", conc: "浓度目标（µg/m³）按线性响应估算：ΔC = Σ α_p·ΔE_p，仅计本地排放变化，不考虑二次气溶胶生成的非线性、区域传输和气象变化。",
  } : {
    measures: "Measures", coefficients: "Uncertain coefficients", growth: "Growth of activity (per year)", targets: "Target values",
    completion: "completion", quantity: "quantity", share: "share", target: "Target", required: "required", achieved: "achieved",
    margin: "margin", status: "status", run: "run", change: "change", met: "met", "at risk": "at risk", "not met": "not met",
    reset: "Reset to the run", save: "Save as scenario (YAML)", waterfall: "emissions", base: " emissions", growthStep: "growth",
    other: "other measures", reductions: "Reductions by measure", unitTa: "t/a", changed: "Changed settings", none: "none (as the run)",
    range: "range", conc: "Concentration targets (µg/m³) follow a linear response: dC = sum_p alpha_p dE_p, local emissions only; nonlinear secondary aerosol, regional transport and weather are not represented.",
  };

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else if (k === "cls") e.className = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function num(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "—";
    var d = digits === undefined ? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 2 : 4) : digits;
    return v.toLocaleString(ZH ? "zh-CN" : "en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function signed(v, digits) { return (v > 0 ? "+" : "") + num(v, digits); }

  function shown(c, v) {  // a control's value as displayed (percent for fractions)
    if (c.fraction) return num(v * 100, 1) + " " + c.unit;  // a fraction shown in percent (a coefficient in % is not one)
    return num(v) + (c.unit ? " " + c.unit : "");
  }

  var rows = {};
  function controlRow(c, label) {
    var isFrac = c.fraction === true;
    var lo = c.min, hi = c.max;
    var input = el("input", { type: "range", min: String(lo), max: String(hi === null ? Math.max(1, c.value * 2) : hi), step: "any", "data-path": c.path });
    var box = el("input", { type: "number", step: "any", cls: "num", "data-path": c.path });
    var val = el("span", { cls: "runval", text: (ZH ? "原: " : "run: ") + shown(c, c.value) });
    input.addEventListener("input", function () { setPath(c.path, parseFloat(input.value)); });
    box.addEventListener("change", function () {
      var v = parseFloat(box.value);
      if (isFinite(v)) setPath(c.path, isFrac ? v / 100 : v);
    });
    var row = el("div", { cls: "ctl" }, [el("label", { text: label }), input, box, el("span", { cls: "unit", text: c.unit }), val]);
    rows[c.path] = { row: row, range: input, box: box, c: c, frac: isFrac };
    return row;
  }

  function build() {
    var root = document.getElementById("controls");
    var groups = { measures: el("details", { open: "" }, [el("summary", { text: L.measures })]),
      coefficients: el("details", {}, [el("summary", { text: L.coefficients })]),
      growth: el("details", {}, [el("summary", { text: L.growth })]),
      targets: el("details", {}, [el("summary", { text: L.targets })]) };
    var byMeasure = {};
    D.controls.forEach(function (c) {
      var label;
      if (c.group === "measures") {
        var m = D.measures.filter(function (mm) { return mm.id === c.measure; })[0];
        if (!byMeasure[c.measure]) {
          byMeasure[c.measure] = el("div", { cls: "measure" }, [el("div", { cls: "mname", text: m.name })]);
          groups.measures.appendChild(byMeasure[c.measure]);
        }
        label = L[c.field];
        byMeasure[c.measure].appendChild(controlRow(c, label));
        return;
      }
      if (c.group === "coefficients") label = c.label;
      else if (c.group === "growth") label = D.pools[c.pool].name;
      else label = D.targets[c.target].name;
      groups[c.group].appendChild(controlRow(c, label));
    });
    ["measures", "coefficients", "growth", "targets"].forEach(function (g) { if (groups[g].children.length > 1) root.appendChild(groups[g]); });
    document.getElementById("reset").addEventListener("click", reset);
    document.getElementById("save").addEventListener("click", function () {
      var text = yaml();
      document.getElementById("yaml").value = text;
      try {  // a local download (blob: or data: URL, never the network); the text stays in the box to copy
        var blob = new Blob([text], { type: "text/yaml;charset=utf-8" });
        if (window.navigator.msSaveOrOpenBlob) { window.navigator.msSaveOrOpenBlob(blob, D.scenario.id + "-whatif.yaml"); return; }
        var a = el("a", { download: D.scenario.id + "-whatif.yaml" });
        a.href = window.URL && URL.createObjectURL ? URL.createObjectURL(blob) : "data:text/yaml;charset=utf-8," + encodeURIComponent(text);
        document.body.appendChild(a); a.click(); a.remove();
      } catch (e) { /* the box above holds the text */ }
    });
  }

  function statusCell(s) { return el("span", { cls: "st " + s.replace(" ", "-"), text: L[s] }); }

  function renderTargets(r) {
    var tb = document.getElementById("targets-body");
    tb.textContent = "";
    r.targets.forEach(function (t, i) {
      var run = D.targets[i].run, dm = t.margin - run.margin;
      var moved = Math.abs(dm) > 1e-9 * Math.max(1, Math.abs(run.margin));  // below that: the run's own number, up to rounding
      var tr = el("tr", { cls: moved || t.status !== run.status ? "changed" : "" }, [
        el("td", { text: t.name }), el("td", { cls: "r", text: num(t.required) + " " + t.unit }),
        el("td", { cls: "r", text: num(t.achieved) + " " + t.unit }), el("td", { cls: "r b", text: signed(t.margin) + " " + t.unit }),
        el("td", {}, [statusCell(t.status)]), el("td", { cls: "r muted", text: signed(run.margin) + " " + t.unit }),
        el("td", { cls: "r", text: moved ? signed(dm) + " " + t.unit : "" })]);
      tb.appendChild(tr);
    });
  }

  // targeted (pollutant, year) pairs of emission targets
  var pairs = [];
  D.targets.forEach(function (t) {
    if (t.kind === "concentration") return;
    if (!pairs.some(function (pr) { return pr[0] === t.p && pr[1] === t.y; })) pairs.push([t.p, t.y]);
  });

  function renderReductions(r) {
    var head = document.getElementById("red-head"), body = document.getElementById("red-body");
    head.textContent = ""; body.textContent = "";
    var hr = el("tr", {}, [el("th", { text: ZH ? "措施" : "measure" })]);
    pairs.forEach(function (pr) { hr.appendChild(el("th", { text: D.pollutants[pr[0]].name + " " + D.years[pr[1]] + " (" + L.unitTa + ")" })); });
    head.appendChild(hr);
    D.measures.forEach(function (m, j) {
      var tr = el("tr", {}, [el("td", { text: m.name })]);
      pairs.forEach(function (pr) {
        var v = r.reduction[j][pr[0]][pr[1]], run = D.run.reduction[j][pr[0]][pr[1]], d = v - run;
        var td = el("td", { cls: "r" + (Math.abs(d) > 1e-9 * Math.max(1, Math.abs(run)) ? " changed" : ""), text: num(v) });
        if (Math.abs(d) > 1e-9 * Math.max(1, Math.abs(run))) td.appendChild(el("span", { cls: "delta", text: " (" + signed(d) + ")" }));
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  var SVGNS = "http://www.w3.org/2000/svg";  // a namespace name, never fetched
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderWaterfalls(r) {
    var box = document.getElementById("waterfalls");
    box.textContent = "";
    pairs.forEach(function (pr) {
      var p = pr[0], y = pr[1];
      var e0 = r.emissions[p][0], by = r.baseline[p][y];
      var steps = [[L.growthStep, by - e0]];
      var order = D.measures.map(function (m, j) { return j; })
        .filter(function (j) { return Math.abs(r.reduction[j][p][y]) > 0; })
        .sort(function (a, b) { return Math.abs(r.reduction[b][p][y]) - Math.abs(r.reduction[a][p][y]); });
      var top = order.slice(0, 8), rest = 0;
      top.forEach(function (j) { steps.push([D.measures[j].name, -r.reduction[j][p][y]]); });
      order.slice(8).forEach(function (j) { rest += r.reduction[j][p][y]; });
      if (Math.abs(rest) > 1e-9) steps.push([L.other, -rest]);
      var lines = [];
      D.targets.forEach(function (t, i) {
        if (t.p !== p || t.y !== y || t.kind === "concentration") return;
        var v = values[i], lv;
        if (t.kind === "reduction_percent") lv = (1 - v) * r.emissions[p][t.ref];
        else if (t.kind === "reduction_amount") lv = by - v;
        else lv = v;
        lines.push([t.name, lv]);
      });
      var bars = [[D.years[0] + L.base, 0, e0, "base"]], level = e0;
      steps.forEach(function (s) { bars.push([s[0], level, level + s[1], s[1] > 0 ? "up" : "down"]); level += s[1]; });
      bars.push([D.years[y] + L.base, 0, level, "end"]);
      var hi = 0;
      bars.forEach(function (b) { hi = Math.max(hi, b[1], b[2]); });
      lines.forEach(function (l) { hi = Math.max(hi, l[1]); });
      hi = hi > 0 ? hi * 1.08 : 1;
      var longest = 0;
      lines.forEach(function (l) { longest = Math.max(longest, l[0].length + 22); });
      var W = Math.max(110 + bars.length * 70, 40 + 11 * longest), top0 = 28 + 14 * lines.length, plotH = 180, H = top0 + plotH + 96, x0 = 56;
      var s = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
      function yy(v) { return top0 + plotH * (1 - v / hi); }
      s.appendChild(svg("text", { x: 4, y: 14, "class": "wt" }, D.pollutants[p].name + " " + D.years[0] + "—" + D.years[y] + " " + L.waterfall + " (" + L.unitTa + ")"));
      s.appendChild(svg("line", { x1: x0, y1: yy(0), x2: W - 4, y2: yy(0), "class": "axis" }));
      bars.forEach(function (b, i) {
        var lo = Math.min(b[1], b[2]), up = Math.max(b[1], b[2]), bx = x0 + 8 + i * 70;
        s.appendChild(svg("rect", { x: bx, y: yy(up), width: 48, height: Math.max(1, yy(lo) - yy(up)), "class": "bar " + b[3] }));
        var v = b[3] === "base" || b[3] === "end" ? b[2] : b[2] - b[1];
        s.appendChild(svg("text", { x: bx + 24, y: yy(up) - 3, "class": "bv" }, (b[3] === "up" ? "+" : "") + num(v, Math.abs(v) >= 100 ? 0 : 1)));
        var lab = String(b[0]);
        var tx = svg("text", { x: bx + 24, y: top0 + plotH + 14, "class": "bl", transform: "rotate(30 " + (bx + 24) + " " + (top0 + plotH + 14) + ")" }, lab.length > 10 ? lab.slice(0, 10) + "…" : lab);
        tx.appendChild(svg("title", {}, lab));
        s.appendChild(tx);
      });
      lines.forEach(function (l) {
        s.appendChild(svg("line", { x1: x0, y1: yy(l[1]), x2: W - 4, y2: yy(l[1]), "class": "tline" }));
      });
      lines.forEach(function (l, i) {  // legend under the title: which dashed line is which target
        var ly = 26 + 14 * i;
        s.appendChild(svg("line", { x1: 8, y1: ly - 4, x2: 30, y2: ly - 4, "class": "tline" }));
        s.appendChild(svg("text", { x: 34, y: ly, "class": "tl" }, (lines.length > 1 ? (i + 1) + ". " : "") + (ZH ? "目标：" : "target: ") + l[0] + "（" + (ZH ? "排放降至 " : "emissions at ") + num(l[1]) + " " + L.unitTa + "）"));
        if (lines.length > 1) s.appendChild(svg("text", { x: W - 6, y: yy(l[1]) - 3, "class": "tl end" }, String(i + 1)));
      });
      box.appendChild(el("div", { cls: "wf" }, [s]));
    });
  }

  function renderControls() {
    var list = changed(), paths = {};
    list.forEach(function (c) { paths[c.path] = true; });
    Object.keys(rows).forEach(function (path) {
      var r = rows[path], v = getPath(path);
      r.row.className = "ctl" + (paths[path] ? " changed" : "");
      if (document.activeElement !== r.range) r.range.value = String(v);
      if (document.activeElement !== r.box) r.box.value = String(r.frac ? +(v * 100).toPrecision(12) : +v.toPrecision(12));
    });
    var ul = document.getElementById("changed");
    ul.textContent = "";
    if (!list.length) ul.appendChild(el("li", { text: L.none }));
    list.forEach(function (c) {
      var ctl = controlByPath[c.path];
      ul.appendChild(el("li", { text: c.path + ": " + shown(ctl, c.run) + " → " + shown(ctl, c.value) }));
    });
  }

  function refresh() {
    current = evaluate(x, values);
    if (!document.getElementById("targets-body")) return;
    renderControls();
    renderTargets(current);
    renderLimits(current);
    renderReductions(current);
    renderWaterfalls(current);
  }

  var api = {
    set: function (path, value) { return setPath(path, value); },
    get: getPath,
    reset: reset,
    targets: function () { return current.targets.map(function (t) { return Object.assign({}, t); }); },
    reductions: function () {
      var out = {};
      D.measures.forEach(function (m, j) { out[m.id] = current.reduction[j].map(function (r) { return Array.prototype.slice.call(r); }); });
      return out;
    },
    totals: function () {
      return { baseline: current.baseline.map(function (r) { return Array.prototype.slice.call(r); }),
        emissions: current.emissions.map(function (r) { return Array.prototype.slice.call(r); }) };
    },
    paths: function () { return D.controls.map(function (c) { return c.path; }); },
    changed: changed,
    yaml: yaml,
  };
  window.ersimExplorer = api;
  build();
  refresh();
  api.readyMs = performance.now();  // ms from navigation start to a page that answers
})();
