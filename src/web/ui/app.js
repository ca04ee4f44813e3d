// vigil's dashboard: lists the sensors (/api/v1/sensors), draws one uPlot chart per
// metric with a line per series, fills it with history from /api/v1/query_range and
// keeps it moving with samples from the WebSocket /ws. Charts are grouped by the first
// word of their metric name (boiler_…, node_…, probe_…); a group of more than
// GROUP_OPEN_MAX charts (the host's 100-odd node_* figures) starts folded, and a folded
// group's charts are not drawn. Each chart reads in its unit (units.js): counters as
// per-second rates, values scaled (KiB/s, ms, %), the legend naming only the labels that
// differ between its series, the hover time to the second with its zone. Plain
// JavaScript, no build step.
(function () {
  'use strict';
  const LIVE_WINDOW_S = 300;
  const GROUP_OPEN_MAX = 12;
  const units = window.vigilUnits;
  const charts = new Map();  // metric name -> {el, plot, keys, labelSets, columns, how}
  const groups = new Map();  // first word of the metric name -> {el, body, count, touched}
  let mode = 'live';
  let socket = null;
  let redrawPending = false;

  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                   '#17becf', '#7f7f7f', '#bcbd22'];

  function seriesKey(labels) {
    return Object.keys(labels).filter((k) => k !== '__name__').sort()
      .map((k) => k + '=' + labels[k]).join(',');
  }

  function chartFor(metric, labels) {
    let chart = charts.get(metric);
    if (chart) return chart;
    const how = units.describe(metric, labels);
    const el = document.createElement('div');
    el.className = 'chart';
    el.dataset.metric = metric;
    el.dataset.lastTs = '0';
    el.dataset.points = '0';
    el.dataset.unit = how.display;
    el.dataset.rate = String(how.rate);
    const title = document.createElement('h3');
    title.textContent = how.title;
    if (how.display) {
      const unit = document.createElement('span');
      unit.className = 'unit';
      unit.textContent = how.display;
      title.append(' ', unit);
    }
    el.appendChild(title);
    const area = document.createElement('div');
    el.appendChild(area);
    const group = groupFor(metric);
    insertSorted(group.body, el, metric);
    group.count += 1;
    group.el.querySelector('summary .count').textContent =
      group.count + (group.count === 1 ? ' chart' : ' charts');
    if (!group.touched) group.el.open = group.count <= GROUP_OPEN_MAX;
    chart = {el, area, group, how, plot: null, keys: [], labelSets: [], columns: []};
    charts.set(metric, chart);
    return chart;
  }

  function groupFor(metric) {
    const name = metric.split('_')[0] || metric;
    let group = groups.get(name);
    if (group) return group;
    const el = document.createElement('details');
    el.className = 'group';
    el.dataset.metric = name;  // for insertSorted
    el.dataset.group = name;
    el.innerHTML = '<summary><b></b> <span class="count"></span></summary>';
    el.querySelector('b').textContent = name;
    const body = document.createElement('div');
    body.className = 'charts';
    el.appendChild(body);
    group = {el, body, count: 0, touched: false};
    // Opened or folded by hand: leave it so; draw what just became visible.
    el.querySelector('summary').addEventListener('click', () => { group.touched = true; });
    el.addEventListener('toggle', scheduleRedraw);
    insertSorted(document.getElementById('charts'), el, name);
    groups.set(name, group);
    return group;
  }

  function insertSorted(parent, el, metric) {
    for (const child of parent.children) {
      if (child.dataset.metric > metric) { parent.insertBefore(el, child); return; }
    }
    parent.appendChild(el);
  }

  // Adds points [(t seconds, value)] of one series to a chart.
  function addPoints(metric, labels, points) {
    const chart = chartFor(metric, labels);
    const key = seriesKey(labels);
    let index = chart.keys.indexOf(key);
    if (index < 0) {
      chart.keys.push(key);
      chart.labelSets.push(labels);
      chart.columns.push(new Map());
      index = chart.keys.length - 1;
      if (chart.plot) { chart.plot.destroy(); chart.plot = null; }
    }
    const column = chart.columns[index];
    for (const [t, v] of points) column.set(t, typeof v === 'number' ? v : Number(v));
    scheduleRedraw();
  }

  function scheduleRedraw() {
    if (redrawPending) return;
    redrawPending = true;
    requestAnimationFrame(() => { redrawPending = false; redraw(); });
  }

  function redraw() {
    const now = Date.now() / 1000;
    for (const [metric, chart] of charts) {
      if (!chart.group.el.open) continue;  // folded: drawn when opened
      const times = new Set();
      const shown = [];  // per series: time -> value as drawn (a counter's rates)
      for (const column of chart.columns) {
        if (mode === 'live') {
          for (const t of column.keys()) if (t < now - LIVE_WINDOW_S) column.delete(t);
        }
        const values = chart.how.rate
          ? new Map(units.rates(Array.from(column).sort((a, b) => a[0] - b[0])))
          : column;
        for (const t of values.keys()) times.add(t);
        shown.push(values);
      }
      const xs = Array.from(times).sort((a, b) => a - b);
      const data = [xs];
      for (const values of shown) data.push(xs.map((t) => (values.has(t) ? values.get(t) : null)));
      if (!chart.plot) {
        const width = Math.max(380, chart.el.clientWidth - 16);
        const {unit, rate} = chart.how;
        const legend = units.legendLabels(chart.labelSets, chart.how.title);
        chart.plot = new uPlot({
          width, height: 200,
          series: [{value: (u, t) => (t == null ? '' : units.formatTime(t, false))}].concat(
            chart.keys.map((k, i) => ({
              label: legend[i],
              stroke: palette[i % palette.length],
              spanGaps: false,
              value: (u, v) => units.format(v, unit, rate),
            }))),
          axes: [{}, {
            values: (u, splits) => units.axisLabels(splits, unit, rate),
            // As wide as its longest label, so none is cut off.
            size: (u, values) => 16 + 7 * Math.max(3, ...(values || []).map((v) => v.length)),
          }],
          legend: {show: chart.keys.length <= 8},
        }, data, chart.area);
      } else {
        chart.plot.setData(data);
      }
      chart.el.dataset.points = String(xs.length);
      chart.el.dataset.lastTs = xs.length ? String(xs[xs.length - 1]) : '0';
    }
  }

  async function loadHistory(rangeSeconds) {
    const end = Date.now() / 1000;
    const start = end - rangeSeconds;
    const step = Math.max(1, Math.ceil(rangeSeconds / 600));
    const url = '/api/v1/query_range?query=' + encodeURIComponent('{__name__=~".+"}') +
      '&start=' + start + '&end=' + end + '&step=' + step;
    const response = await fetch(url);
    const body = await response.json();
    if (body.status !== 'success') { console.error(body.error); return; }
    for (const s of body.data.result) {
      addPoints(s.metric.__name__ || '(no name)', s.metric, s.values.map(([t, v]) => [t, Number(v)]));
    }
    document.body.dataset.historyLoaded = String(Date.now());
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(scheme + '//' + location.host + '/ws');
    const state = document.getElementById('connection');
    socket.onopen = () => {
      // How many times the stream was (re)opened, for tests behind a load balancer.
      document.body.dataset.liveConnections = String(Number(document.body.dataset.liveConnections || 0) + 1);
      state.textContent = 'live';
      state.className = 'state online';
      socket.send(JSON.stringify({type: 'subscribe', id: 'all', selector: '{__name__=~".+"}'}));
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== 'samples' || mode !== 'live') return;
      for (const s of message.series) {
        addPoints(s.labels.__name__ || '(no name)', s.labels, s.samples.map(([ms, v]) => [ms / 1000, v]));
      }
    };
    socket.onclose = () => {
      state.textContent = 'reconnecting…';
      state.className = 'state stale';
      setTimeout(connect, 1000);
    };
  }

  async function refreshSensors() {
    try {
      const body = await (await fetch('/api/v1/sensors')).json();
      const list = document.getElementById('sensors');
      list.innerHTML = '';
      if (!body.data.length) list.innerHTML = '<li class="empty">none announced yet</li>';
      // A first run says what to do while no sensor has announced itself.
      document.getElementById('empty').hidden = body.data.length > 0;
      for (const s of body.data) {
        const li = document.createElement('li');
        li.dataset.sensor = s.name;
        li.dataset.state = s.state;
        li.innerHTML = '<span class="state ' + s.state + '"></span> <b></b> <span class="agent"></span>';
        li.querySelector('.state').textContent = s.state;
        li.querySelector('b').textContent = s.name;
        li.querySelector('.agent').textContent = s.agent + ' · ' + (s.interval_ms / 1000) + ' s' +
            (s.last_error ? ' · ' + s.last_error : '');
        list.appendChild(li);
      }
    } catch (e) { console.error(e); }
  }

  // The alert panel: firing first, each with its summary (or its labels) and since when.
  async function refreshAlerts() {
    try {
      const body = await (await fetch('/api/v1/alerts')).json();
      const list = document.getElementById('alerts');
      list.innerHTML = '';
      if (!body.data.alerts.length) list.innerHTML = '<li class="empty">no alerts</li>';
      for (const a of body.data.alerts) {
        const li = document.createElement('li');
        li.dataset.alert = a.labels.alertname;
        li.dataset.state = a.state;
        li.className = 'alert ' + (a.labels.severity || 'warning');
        li.innerHTML = '<span class="state"></span> <b></b> <span class="summary"></span> <span class="since"></span>';
        li.querySelector('.state').textContent = a.state;
        li.querySelector('.state').className = 'state ' + (a.state === 'firing' ? 'offline' : 'stale');
        li.querySelector('b').textContent = a.labels.alertname;
        const others = Object.entries(a.labels)
          .filter(([k]) => k !== 'alertname' && k !== 'severity')
          .map(([k, v]) => k + '=' + v).join(', ');
        li.querySelector('.summary').textContent = (a.annotations && a.annotations.summary) || others;
        li.querySelector('.since').textContent = 'since ' + new Date(a.activeAt).toLocaleTimeString();
        list.appendChild(li);
      }
    } catch (e) { console.error(e); }
  }

  const RANGES = {'1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800};
  document.getElementById('range').addEventListener('change', async (event) => {
    mode = event.target.value;
    for (const chart of charts.values()) {
      chart.columns = chart.columns.map(() => new Map());
      if (chart.plot) { chart.plot.destroy(); chart.plot = null; }
    }
    await loadHistory(mode === 'live' ? LIVE_WINDOW_S : RANGES[mode]);
    redraw();
  });

  refreshSensors();
  setInterval(refreshSensors, 5000);
  refreshAlerts();
  setInterval(refreshAlerts, 2000);
  loadHistory(LIVE_WINDOW_S).then(connect, connect);
})();
