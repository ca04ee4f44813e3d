// How a series reads on the dashboard: its unit from the `unit` label or else the metric
// name's suffix (Prometheus's naming conventions: _bytes, _seconds, _ratio, _celsius …),
// counters (_total, _count, _sum, _bucket) drawn as per-second rates, values scaled for
// people (KiB/MiB, ms/s, %, bit/s, k/M), and the labels that tell a chart's series apart.
// Pure functions: the page uses them as window.vigilUnits, tests/ui/units_test.mjs with
// node's require.
(function (root) {
  'use strict';

  const COUNTER_SUFFIXES = ['_total', '_count', '_sum', '_bucket'];
  const NAME_UNITS = [
    ['_bytes', 'bytes'], ['_seconds', 'seconds'], ['_ratio', 'ratio'], ['_percent', 'percent'],
    ['_celsius', 'celsius'], ['_bits', 'bits'], ['_volts', 'V'], ['_amperes', 'A'],
    ['_watts', 'W'], ['_joules', 'J'], ['_hertz', 'Hz'], ['_meters', 'm'],
  ];

  function isCounter(metric) {
    return COUNTER_SUFFIXES.some((suffix) => metric.endsWith(suffix));
  }

  // The unit of one value of `metric`: the `unit` label when the series has one, else the
  // metric's `# UNIT` (meta.unit, /api/v1/metadata), else one of NAME_UNITS' words by the
  // name's suffix (the counter suffix taken off), else ''.
  function baseUnit(metric, labels, meta) {
    // An alert's series carries its rule's labels, a unit among them, but counts alerts.
    if (metric === 'ALERTS' || metric === 'ALERTS_FOR_STATE') return '';
    if (labels && labels.unit) return labels.unit;
    if (meta && meta.unit) return meta.unit;
    // A point in time (process_start_time_seconds, *_timestamp_seconds), not a duration.
    if (/_time(stamp)?_seconds$/.test(metric)) return 'timestamp';
    let name = metric;
    const counter = COUNTER_SUFFIXES.find((suffix) => name.endsWith(suffix));
    if (counter) name = name.slice(0, -counter.length);
    const found = NAME_UNITS.find(([suffix]) => name.endsWith(suffix));
    return found ? found[1] : '';
  }

  // How a chart of `metric` shows it: as a rate (counters: by `# TYPE counter` in meta, or
  // by the name) or as it is, in which unit, and under which title. Seconds per second (CPU
  // time) read as a percentage. `meta` is the metric's metadata, {type, unit}, if known.
  function describe(metric, labels, meta) {
    const rate = (meta && meta.type === 'counter') || isCounter(metric);
    const unit = baseUnit(metric, labels, meta);
    return {rate, unit, title: rate ? 'rate(' + metric + ')' : metric, display: displayUnit(unit, rate)};
  }

  // The unit a chart's axis is in: "B/s", "%", "bar", "/s" …
  function displayUnit(unit, rate) {
    if (unit === 'timestamp') return rate ? '/s' : '';
    if (unit === 'seconds' && rate) return '%';
    if (unit === 'ratio' || unit === 'percent') return '%';
    const base = {bytes: 'B', bits: 'bit', seconds: 's', celsius: '°C'}[unit] ?? unit;
    return rate ? base + '/s' : base;
  }

  // Three significant digits, without trailing zeros: 15.25 -> "15.3", 2 -> "2".
  function number(value) {
    if (value === 0) return '0';
    const abs = Math.abs(value);
    if (abs >= 1000) return String(Math.round(value));
    return String(Number(value.toPrecision(precision)));
  }
  let precision = 3;  // significant digits of number(); axisLabels raises it for a while

  // `value` scaled by the first step it reaches: [[factor, suffix], …] largest first.
  function scaled(value, steps, fallback) {
    const abs = Math.abs(value);
    for (const [factor, suffix] of steps) {
      if (abs >= factor) return number(value / factor) + suffix;
    }
    return number(value) + fallback;
  }

  const BINARY = [[2 ** 40, ' TiB'], [2 ** 30, ' GiB'], [2 ** 20, ' MiB'], [2 ** 10, ' KiB']];
  const DECIMAL = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];

  // One value as people read it, in the chart's unit: format(3.5e6, 'bytes', true) is
  // "3.34 MiB/s", format(0.25, 'seconds', true) "25%", format(0.0042, 'seconds') "4.2 ms".
  function format(value, unit, rate) {
    if (value == null || Number.isNaN(value)) return '–';
    if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
    const per = rate ? '/s' : '';
    if (unit === 'timestamp' && !rate) return formatTime(value, false);
    if ((unit === 'seconds' && rate) || unit === 'ratio') return number(value * 100) + '%';
    if (unit === 'percent') return number(value) + '%';
    if (unit === 'bytes') return scaled(value, BINARY, ' B') + per;
    if (unit === 'bits') return scaled(value, DECIMAL.map(([f, s]) => [f, ' ' + s + 'bit']), ' bit') + per;
    if (unit === 'seconds') {
      const abs = Math.abs(value);
      if (abs === 0) return '0 s';
      if (abs < 1e-3) return number(value * 1e6) + ' µs';
      if (abs < 1) return number(value * 1e3) + ' ms';
      if (abs < 120) return number(value) + ' s';
      if (abs < 7200) return number(value / 60) + ' min';
      if (abs < 172800) return number(value / 3600) + ' h';
      return number(value / 86400) + ' d';
    }
    if (unit === 'celsius') return number(value) + ' °C';
    const suffix = unit ? ' ' + unit : '';
    return scaled(value, DECIMAL, '') + suffix + per;
  }

  // A counter's samples (times ts in seconds, ascending, and values vs) as per-second
  // rates between neighbours, at the later one's time: [times, rates]. A value below the
  // one before is a reset: the counter started again from zero.
  function rates(ts, vs) {
    const times = [];
    const out = [];
    for (let i = 1; i < ts.length; i++) {
      if (ts[i] <= ts[i - 1] || vs[i - 1] == null || vs[i] == null) continue;
      const increase = vs[i] >= vs[i - 1] ? vs[i] - vs[i - 1] : vs[i];
      times.push(ts[i]);
      out.push(increase / (ts[i] - ts[i - 1]));
    }
    return [times, out];
  }

  // The legend text of each series of a chart: only the labels whose values differ
  // between its series (not __name__), "name=value, …"; `single` when they all agree.
  function legendLabels(labelSets, single) {
    const names = new Set();
    for (const labels of labelSets) for (const name of Object.keys(labels)) names.add(name);
    names.delete('__name__');
    const differing = [...names].sort().filter(
        (name) => new Set(labelSets.map((labels) => labels[name] ?? '')).size > 1);
    return labelSets.map((labels) => (differing.length
      ? differing.map((name) => name + '=' + (labels[name] ?? '')).join(', ')
      : single));
  }

  // A time to the second with its zone: "2026-12-04 18:30:05 UTC".
  function formatTime(seconds, utc) {
    const d = new Date(seconds * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    const [y, mo, day, h, mi, s] = utc
      ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
      : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
    const zone = utc ? 'UTC' : (new Intl.DateTimeFormat('en', {timeZoneName: 'short'})
      .formatToParts(d).find((p) => p.type === 'timeZoneName') || {value: ''}).value;
    return `${y}-${pad(mo)}-${pad(day)} ${pad(h)}:${pad(mi)}:${pad(s)} ${zone}`.trim();
  }

  // The labels of an axis's ticks: the unit's scale (MiB, ms, %) but not a unit the chart's
  // title names already (bar, rpm, /s), with as many digits as it takes for neighbouring
  // ticks to differ (15.05 and 15.1 bar are not both "15.1").
  function axisLabels(ticks, unit, rate) {
    const scaledUnit = ['bytes', 'bits', 'seconds', 'ratio', 'percent', 'celsius', 'timestamp'].includes(unit);
    const one = (v) => (unit === 'timestamp' && !rate ? formatTime(v, false).slice(11, 19)
      : scaledUnit ? format(v, unit, rate).replace(/\/s$/, '') : format(v, '', false));
    let labels = ticks.map(one);
    for (precision = 4; precision <= 9 && new Set(labels).size < labels.length; precision++) {
      labels = ticks.map(one);
    }
    precision = 3;
    return labels;
  }

  const api = {isCounter, baseUnit, describe, displayUnit, format, axisLabels, rates, legendLabels, formatTime};
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.vigilUnits = api;
})(this);
