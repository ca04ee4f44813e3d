// The pages that are not dashboards: all series (a chart per metric, history from
// query_range, kept moving by the WebSocket /ws while the window follows now), Explore (a
// PromQL box with completion from the label APIs, the result as a chart and a table, the
// query in the URL, errors marked where they are), alerts (firing, pending, recently
// resolved, each with its rule's expression linking to Explore) and targets (every sensor
// and scrape or probe target with health, interval, last reading, duration and error).
(function () {
  'use strict';
  const {el, api, notice} = window.vigil;
  const units = window.vigilUnits;
  const v = window.vigil;

  // ---- all series ----

  const GROUP_OPEN_MAX = 12;
  const FRAME_BUDGET_MS = 8;

  function seriesKey(labels) {
    return Object.keys(labels).filter((k) => k !== '__name__').sort().map((k) => k + '=' + labels[k]).join(',');
  }

  // A series' points in time order as two arrays, 16 bytes a point: an arriving point is
  // appended, or put in its place when it is late; trim drops those before `start`.
  function insertPoint(column, t, x) {
    const {ts, vs} = column;
    const n = ts.length;
    if (!n || t > ts[n - 1]) { ts.push(t); vs.push(x); return; }
    let lo = 0, hi = n;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ts[mid] < t) lo = mid + 1; else hi = mid; }
    if (ts[lo] === t) vs[lo] = x;
    else { ts.splice(lo, 0, t); vs.splice(lo, 0, x); }
  }
  function trim(column, start) {
    let k = 0;
    while (k < column.ts.length && column.ts[k] < start) k++;
    if (k) { column.ts.splice(0, k); column.vs.splice(0, k); }
  }
  // uPlot's data for columns [[ts, vs], …]: their times merged, a value or null per time.
  function alignColumns(columns) {
    if (columns.length === 1) return [columns[0][0], columns[0][1]];
    const all = [];
    for (const [ts] of columns) for (const t of ts) all.push(t);
    all.sort((a, b) => a - b);
    const xs = all.filter((t, i) => i === 0 || t !== all[i - 1]);
    return [xs, ...columns.map(([ts, vs]) => {
      const out = new Array(xs.length).fill(null);
      for (let i = 0, j = 0; i < ts.length; i++) {
        while (xs[j] < ts[i]) j++;
        out[j] = vs[i];
      }
      return out;
    })];
  }

  // A chart per metric, grouped by the first word of its name (boiler_…, node_…); a group
  // of more than GROUP_OPEN_MAX charts starts folded. Only the charts on screen are drawn
  // (an IntersectionObserver says which): the others are drawn when scrolled to or opened.
  function seriesPage() {
    let charts, groups, socket, redrawPending, container, filter, stopped, observer, sweep;
    let metadata = {};  // metric -> [{type, unit, help}], /api/v1/metadata

    function chartFor(metric, labels) {
      let chart = charts.get(metric);
      if (chart) return chart;
      const how = units.describe(metric, labels, (metadata[metric] || [])[0]);
      const area = el('div', {class: 'chart-area'});
      const chartEl = el('div', {class: 'chart', 'data-metric': metric, 'data-last-ts': '0', 'data-points': '0',
                                 'data-unit': how.display, 'data-rate': String(how.rate)},
        el('h3', {}, how.title, how.display ? el('span', {class: 'unit', text: ' ' + how.display}) : null), area);
      const group = groupFor(metric);
      insertSorted(group.body, chartEl, metric);
      group.count += 1;
      group.el.querySelector('summary .count').textContent = group.count + (group.count === 1 ? ' chart' : ' charts');
      if (!group.touched) group.el.open = group.count <= GROUP_OPEN_MAX;
      chart = {el: chartEl, area, group, how, plot: null, keys: [], labelSets: [], columns: [],
               onScreen: false, dirty: true};
      charts.set(metric, chart);
      chartEl.vigilChart = chart;
      observer.observe(chartEl);
      applyFilter();
      return chart;
    }

    function groupFor(metric) {
      const name = metric.split('_')[0] || metric;
      let group = groups.get(name);
      if (group) return group;
      const body = el('div', {class: 'charts'});
      const summary = el('summary', {}, el('b', {text: name}), ' ', el('span', {class: 'count'}));
      const groupEl = el('details', {class: 'group', 'data-metric': name, 'data-group': name}, summary, body);
      group = {el: groupEl, body, count: 0, touched: false};
      summary.addEventListener('click', () => { group.touched = true; });
      groupEl.addEventListener('toggle', scheduleRedraw);
      insertSorted(container, groupEl, name);
      groups.set(name, group);
      return group;
    }

    function insertSorted(parent, child, metric) {
      for (const c of parent.children) {
        if (c.dataset.metric > metric) { parent.insertBefore(child, c); return; }
      }
      parent.append(child);
    }

    function applyFilter() {
      const text = filter.value.trim().toLowerCase();
      for (const [metric, chart] of charts) chart.el.hidden = !!text && !metric.toLowerCase().includes(text);
      for (const group of groups.values()) {
        group.el.hidden = !!text && ![...group.body.children].some((c) => !c.hidden);
        if (text && !group.el.hidden && !group.touched) group.el.open = true;
      }
      scheduleRedraw();
    }

    function addPoints(metric, labels, points) {
      const chart = chartFor(metric, labels);
      const key = seriesKey(labels);
      let index = chart.keys.indexOf(key);
      if (index < 0) {
        chart.keys.push(key);
        chart.labelSets.push(labels);
        chart.columns.push({ts: [], vs: []});
        index = chart.keys.length - 1;
        if (chart.plot) { v.forgetPlot(chart.plot); chart.plot = null; }
      }
      for (const [t, x] of points) insertPoint(chart.columns[index], t, typeof x === 'number' ? x : Number(x));
      chart.dirty = true;
      if (chart.onScreen) scheduleRedraw();
    }

    function scheduleRedraw() {
      if (redrawPending || stopped) return;
      redrawPending = true;
      requestAnimationFrame(() => { redrawPending = false; if (!stopped) redraw(); });
    }

    // Draws the charts on screen that changed, for at most FRAME_BUDGET_MS a frame: the rest
    // wait for the next frame, so a second's batch across 50 charts does not stall one.
    function redraw() {
      const w = v.timeWindow();
      const started = performance.now();
      for (const chart of charts.values()) {
        if (!chart.onScreen || !chart.dirty) continue;  // drawn when it comes on screen
        if (performance.now() - started > FRAME_BUDGET_MS) { scheduleRedraw(); return; }
        chart.dirty = false;
        for (const column of chart.columns) trim(column, w.start);
        const data = alignColumns(chart.columns.map((c) => (chart.how.rate ? units.rates(c.ts, c.vs) : [c.ts, c.vs])));
        if (!chart.plot) {
          chart.plot = v.plot(chart.area, {labels: units.legendLabels(chart.labelSets, chart.how.title),
                                           unit: chart.how.unit, rate: chart.how.rate, window: w}, data);
        } else {
          chart.plot.setWindow(w);
          chart.plot.setData(data);
        }
        const xs = data[0];
        chart.el.dataset.points = String(xs.length);
        chart.el.dataset.lastTs = xs.length ? String(xs[xs.length - 1]) : '0';
      }
    }

    async function loadHistory() {
      const w = v.timeWindow();
      const step = v.stepFor(w, 800);
      try {
        const data = await api('query_range', {query: '{__name__=~".+"}', start: w.start, end: w.end, step});
        for (const s of data.result) addPoints(s.metric.__name__ || '(no name)', s.metric, s.values.map(([t, x]) => [t, Number(x)]));
        status.replaceChildren(data.result.length ? '' : notice('info', 'no data in this time range'));
      } catch (e) {
        status.replaceChildren(notice('error', 'history failed to load: ' + e.message));
      }
      document.body.dataset.historyLoaded = String(Date.now());
    }
    let status;

    function connect() {
      if (stopped) return;
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      socket = new WebSocket(scheme + '//' + location.host + '/ws');
      socket.onopen = () => {
        // How many times the stream was (re)opened, for tests behind a load balancer.
        document.body.dataset.liveConnections = String(Number(document.body.dataset.liveConnections || 0) + 1);
        v.liveState('live', 'online');
        socket.send(JSON.stringify({type: 'subscribe', id: 'all', selector: '{__name__=~".+"}'}));
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type !== 'samples') return;
        for (const s of message.series) {
          addPoints(s.labels.__name__ || '(no name)', s.labels, s.samples.map(([ms, x]) => [ms / 1000, x]));
        }
      };
      socket.onclose = () => {
        if (stopped) return;
        v.liveState('reconnecting…', 'stale');
        setTimeout(connect, 1000);
      };
    }

    return {
      render(main) {
        charts = new Map();
        groups = new Map();
        observer = new IntersectionObserver((entries) => {
          for (const entry of entries) entry.target.vigilChart.onScreen = entry.isIntersecting;
          scheduleRedraw();
        }, {rootMargin: '200px'});
        stopped = false;
        redrawPending = false;
        filter = el('input', {type: 'search', id: 'series-filter', placeholder: 'filter by metric name',
                              'aria-label': 'filter charts by metric name', oninput: applyFilter});
        container = el('div', {id: 'charts', 'aria-live': 'polite'});
        status = el('div', {class: 'panel-status'});
        main.append(el('div', {class: 'page-head'}, el('h2', {class: 'page-title', text: 'All series'}), filter), status, container);
        const w = v.timeWindow();
        const loaded = api('metadata').then((m) => { metadata = m; }, () => {}).then(loadHistory);
        if (w.live) {
          loaded.then(connect, connect);
          // A chart whose series went quiet still moves with the window.
          sweep = setInterval(() => { for (const chart of charts.values()) chart.dirty = true; scheduleRedraw(); }, 5000);
        } else {
          v.liveState('paused', 'stale');
        }
      },
      stop() {
        stopped = true;
        observer.disconnect();
        clearInterval(sweep);
        if (socket) { socket.onclose = null; socket.close(); socket = null; }
        v.liveState('', 'hidden');
      },
    };
  }
  v.page('series', seriesPage());

  // ---- Explore ----

  const FUNCTIONS = ['abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes',
    'clamp', 'clamp_max', 'clamp_min', 'count', 'count_over_time', 'count_values', 'delta', 'deriv', 'exp', 'floor',
    'group', 'histogram_quantile', 'holt_winters', 'idelta', 'increase', 'irate', 'label_join', 'label_replace',
    'last_over_time', 'ln', 'log2', 'log10', 'max', 'max_over_time', 'min', 'min_over_time', 'predict_linear',
    'present_over_time', 'quantile', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sort',
    'sort_desc', 'sqrt', 'stddev', 'stddev_over_time', 'stdvar', 'sum', 'sum_over_time', 'time', 'timestamp',
    'topk', 'vector'];
  const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless'];

  // What to complete at the caret of `text`: {kind: 'metric'|'label'|'value', prefix, label, metric}.
  function completionContext(text) {
    const open = text.lastIndexOf('{');
    if (open > text.lastIndexOf('}')) {
      const inside = text.slice(open + 1);
      const metric = (/([a-zA-Z_:][\w:]*)\s*$/.exec(text.slice(0, open)) || [])[1];
      const value = /([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(inside);
      if (value) return {kind: 'value', label: value[1], prefix: value[3], metric};
      const name = /(?:^|[,{\s])([a-zA-Z_]\w*)?$/.exec(inside);
      if (name) return {kind: 'label', prefix: name[1] || '', metric};
      return null;
    }
    const grouping = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)$/.exec(text);
    if (grouping) return {kind: 'label', prefix: (/([a-zA-Z_]\w*)?$/.exec(grouping[2]) || [])[1] || ''};
    if (/\[[^\]]*$/.test(text)) return null;  // a range: no names there
    const word = /([a-zA-Z_:][\w:]*)$/.exec(text);
    return word ? {kind: 'metric', prefix: word[1]} : null;
  }

  function explorePage() {
    let input, list, errorBox, caret, chartArea, tableBox, status, made;
    const cache = new Map();
    let items = [], selected = -1, context = null;

    async function cached(path, params = {}) {
      const key = path + '?' + new URLSearchParams(params);
      if (!cache.has(key)) cache.set(key, api(path, params).catch(() => []));
      return cache.get(key);
    }

    async function complete() {
      const before = input.value.slice(0, input.selectionStart);
      context = completionContext(before);
      let candidates = [];
      if (context && context.kind === 'metric' && context.prefix) {
        candidates = [...await cached('label/__name__/values'), ...FUNCTIONS, ...KEYWORDS];
      } else if (context && context.kind === 'label') {
        candidates = await cached('labels', context.metric ? {'match[]': context.metric} : {});
        candidates = candidates.filter((n) => n !== '__name__');
      } else if (context && context.kind === 'value') {
        candidates = await cached('label/' + encodeURIComponent(context.label) + '/values',
                                  context.metric ? {'match[]': context.metric} : {});
      }
      const prefix = context ? context.prefix.toLowerCase() : '';
      items = context ? [...new Set(candidates)].filter((c) => c.toLowerCase().startsWith(prefix) && c !== context.prefix).slice(0, 30) : [];
      selected = items.length ? 0 : -1;
      drawList();
    }

    function drawList() {
      list.replaceChildren(...items.map((item, i) => el('li', {role: 'option', id: 'completion-' + i,
        'aria-selected': String(i === selected), text: item,
        onmousedown: (event) => { event.preventDefault(); accept(i); }})));
      list.hidden = items.length === 0;
      input.setAttribute('aria-expanded', String(!list.hidden));
      if (selected >= 0) input.setAttribute('aria-activedescendant', 'completion-' + selected);
    }

    function accept(i) {
      const item = items[i];
      const at = input.selectionStart;
      const start = at - context.prefix.length;
      input.value = input.value.slice(0, start) + item + input.value.slice(at);
      input.selectionStart = input.selectionEnd = start + item.length;
      items = [];
      drawList();
      input.focus();
    }

    async function run() {
      const query = input.value.trim();
      const params = new URLSearchParams(v.params());
      if (query) params.set('q', query); else params.delete('q');
      if (params.toString() !== v.params().toString()) { v.navigate('explore', '', params); return; }
      await draw();
    }

    async function draw() {
      const query = v.params().get('q') || '';
      errorBox.hidden = true;
      caret.hidden = true;
      tableBox.replaceChildren();
      if (!query) { status.replaceChildren(notice('info', 'type a PromQL query, for example rate(node_cpu_seconds_total[1m])')); return; }
      const w = v.timeWindow();
      let range, instant;
      try {
        [range, instant] = await Promise.all([
          api('query_range', {query, start: w.start, end: w.end, step: v.stepFor(w, chartArea.clientWidth || 800)}),
          api('query', {query, time: w.end})]);
      } catch (e) {
        status.replaceChildren();
        errorBox.textContent = e.message;
        errorBox.hidden = false;
        if (e.position) {
          // The query, with a caret under the column the error names.
          const line = query.split('\n')[e.position.line - 1] || '';
          caret.textContent = line + '\n' + ' '.repeat(Math.max(0, e.position.column - 1)) + '^';
          caret.hidden = false;
        }
        if (made) { v.forgetPlot(made); made = null; }
        document.body.dataset.exploreError = e.message;
        return;
      }
      delete document.body.dataset.exploreError;
      const series = range.resultType === 'matrix' ? range.result : [];
      const name = series.length ? series[0].metric.__name__ || '' : '';
      const how = units.describe(name, series[0] ? series[0].metric : {});
      const labels = units.legendLabels(series.map((s) => s.metric), query);
      const times = [...new Set(series.flatMap((s) => s.values.map((p) => p[0])))].sort((a, b) => a - b);
      const data = [times, ...series.map((s) => { const m = new Map(s.values); return times.map((t) => (m.has(t) ? Number(m.get(t)) : null)); })];
      if (made) { v.forgetPlot(made); made = null; }
      // A bare counter is shown as it is here: Explore draws what the query says.
      if (series.length) made = v.plot(chartArea, {labels, unit: how.rate ? '' : how.unit, window: w, height: 260}, data);
      status.replaceChildren(series.length ? notice('ok', series.length + ' series, ' + times.length + ' steps')
        : notice('info', 'no data in this time range'));
      document.body.dataset.exploreSeries = String(series.length);
      // The table: the value of each series at the window's end.
      const rows = instant.resultType === 'vector' ? instant.result.map((s) => [s.metric, s.value[1]])
        : instant.resultType === 'scalar' ? [[{}, instant.result[1]]] : [];
      tableBox.replaceChildren(el('table', {id: 'result-table'},
        el('thead', {}, el('tr', {}, el('th', {text: 'series'}), el('th', {text: 'value at ' + units.formatTime(w.end, v.utc())}))),
        el('tbody', {}, rows.map(([metric, value]) => el('tr', {},
          el('td', {class: 'labels', text: (metric.__name__ || '') + '{' + Object.entries(metric)
            .filter(([k]) => k !== '__name__').map(([k, x]) => k + '="' + x + '"').join(', ') + '}'}),
          el('td', {text: units.format(Number(value), how.rate ? '' : how.unit, false)}))))));
    }

    return {
      render(main) {
        input = el('textarea', {id: 'query', rows: 2, spellcheck: 'false', autocomplete: 'off',
                                'aria-label': 'PromQL query', role: 'combobox', 'aria-autocomplete': 'list',
                                'aria-controls': 'completions', 'aria-expanded': 'false',
                                placeholder: 'PromQL, e.g. sum by (mode) (rate(node_cpu_seconds_total[1m]))'});
        input.value = v.params().get('q') || '';
        list = el('ul', {id: 'completions', role: 'listbox', hidden: true});
        errorBox = el('p', {id: 'query-error', class: 'notice error', role: 'alert', hidden: true});
        caret = el('pre', {id: 'query-caret', hidden: true});
        chartArea = el('div', {class: 'chart-area explore-chart'});
        tableBox = el('div', {class: 'table-wrap'});
        status = el('div', {class: 'panel-status'});
        input.addEventListener('input', complete);
        input.addEventListener('blur', () => { list.hidden = true; });
        input.addEventListener('keydown', (event) => {
          if (!list.hidden && items.length) {
            if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
              event.preventDefault();
              selected = (selected + (event.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
              drawList();
              return;
            }
            if (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey && !event.ctrlKey)) { event.preventDefault(); accept(selected); return; }
            if (event.key === 'Escape') { items = []; drawList(); return; }
          }
          if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); run(); }
        });
        main.append(el('h2', {class: 'page-title', text: 'Explore'}),
          el('form', {class: 'explore-form', onsubmit: (event) => { event.preventDefault(); run(); }},
            el('div', {class: 'query-box'}, input, list),
            el('button', {type: 'submit', id: 'run', text: 'Run'})),
          el('p', {class: 'muted hint', text: 'Enter runs the query, Shift+Enter starts a new line; Tab or Enter takes a completion. The URL holds the query and the time, to share.'}),
          errorBox, caret, status, chartArea, tableBox);
        draw();
      },
      refresh() { if (!document.activeElement || document.activeElement !== input) draw(); },
    };
  }
  v.page('explore', explorePage());

  // A page of a title and a body that draw(body) fills, again at each refresh.
  function listPage(title, draw) {
    let body;
    return {
      render(main) {
        body = el('div');
        main.append(el('h2', {class: 'page-title', text: title}), body);
        draw(body);
      },
      refresh: () => draw(body),
    };
  }

  // ---- alerts ----

  function alertsPage() {
    async function draw(body) {
      let rules, history;
      const w = v.timeWindow();
      try {
        [rules, history] = await Promise.all([
          api('rules', {type: 'alert'}),
          // Alerts that fired in the window and no longer do: from the ALERTS series.
          api('query_range', {query: 'ALERTS{alertstate="firing"}', start: Math.min(w.start, w.end - 6 * 3600), end: w.end, step: 60})]);
      } catch (e) {
        body.replaceChildren(notice('error', e.message));
        return;
      }
      const firing = [], pending = [], exprOf = {};
      for (const group of rules.groups) {
        for (const rule of group.rules) {
          exprOf[rule.name] = rule.query;
          for (const a of rule.alerts || []) (a.state === 'firing' ? firing : pending).push([a, rule.query]);
        }
      }
      // The menu's count, otherwise taken every 5 s, agrees with the page at once.
      if (firing.length !== Number(document.body.dataset.firing || 0)) v.countAlerts();
      const firingNow = new Set(firing.map(([a]) => JSON.stringify(Object.entries(a.labels).sort())));
      const resolved = [];
      for (const s of history.result) {
        const {alertstate, __name__, ...labels} = s.metric;
        if (firingNow.has(JSON.stringify(Object.entries(labels).sort()))) continue;
        const first = s.values[0][0];
        const last = s.values[s.values.length - 1][0];
        resolved.push({labels, first, last});
      }
      resolved.sort((a, b) => b.last - a.last);
      const section = (title, id, list, empty) => el('section', {class: 'row', id},
        el('h2', {}, title, el('span', {class: 'muted', text: ' ' + list.length})),
        list.length ? el('ul', {class: 'list'}, list) : notice('ok', empty));
      body.replaceChildren(
        section('Firing', 'firing', firing.map(([a, expr]) => v.alertItem(a, expr)), 'nothing is firing'),
        section('Pending', 'pending', pending.map(([a, expr]) => v.alertItem(a, expr)), 'nothing is pending'),
        section('Recently resolved', 'resolved', resolved.map((r) => el('li', {'data-alert': r.labels.alertname},
          v.badge('resolved'), ' ', el('b', {text: r.labels.alertname}), ' ',
          el('span', {class: 'muted', text: Object.entries(r.labels).filter(([k]) => k !== 'alertname')
            .map(([k, x]) => k + '=' + x).join(', ')}),
          el('div', {class: 'muted'}, 'resolved ' + v.ago(r.last) + ' after firing for ' + v.lasting(r.last - r.first),
            exprOf[r.labels.alertname] ? el('span', {}, ' · ', el('a', {href: v.link('explore', '', {q: exprOf[r.labels.alertname]}), text: 'rule'})) : null))),
        'nothing resolved in the last 6 hours'),
        el('section', {class: 'row', id: 'rules'}, el('h2', {text: 'Rules'}), el('div', {class: 'table-wrap'}, el('table', {},
          el('thead', {}, el('tr', {}, ['rule', 'state', 'for', 'expression'].map((h) => el('th', {text: h})))),
          el('tbody', {}, rules.groups.flatMap((g) => g.rules).map((r) => el('tr', {'data-rule': r.name},
            el('td', {text: r.name}), el('td', {}, v.badge(r.state)),
            el('td', {class: 'nowrap', text: r.duration ? v.lasting(r.duration) : '–'}),
            el('td', {}, el('a', {class: 'expr', href: v.link('explore', '', {q: r.query}), text: r.query})))))))));
      document.body.dataset.loaded = String(Date.now());
    }
    return listPage('Alerts', draw);
  }
  v.page('alerts', alertsPage());

  // ---- targets ----

  function targetsPage() {
    async function draw(body) {
      let sensors, targets;
      try { [sensors, targets] = await Promise.all([api('sensors'), api('targets')]); } catch (e) {
        body.replaceChildren(notice('error', e.message));
        return;
      }
      const took = new Map(targets.activeTargets.map((t) => [t.scrapePool + ' ' + t.scrapeUrl, t.lastScrapeDuration]));
      const rows = [];
      for (const s of sensors) {
        const base = [el('td', {text: s.name}), el('td', {text: s.agent}), el('td', {text: s.type})];
        const interval = el('td', {text: s.interval_ms / 1000 + ' s'});
        if (!s.targets.length) {
          rows.push(el('tr', {'data-sensor': s.name}, base, el('td', {class: 'muted', text: '–'}), el('td', {}, v.badge(s.state)), interval,
            el('td', {text: s.last_seen_ms ? v.ago(s.last_seen_ms / 1000) : 'never'}), el('td', {class: 'muted', text: '–'}), el('td', {class: 'bad', text: s.last_error})));
        }
        for (const t of s.targets) {
          const d = took.get(s.name + ' ' + t.url);
          rows.push(el('tr', {'data-sensor': s.name, 'data-target': t.url}, base.map((c) => c.cloneNode(true)), el('td', {text: t.url}),
            el('td', {}, v.badge(t.health)), interval.cloneNode(true),
            el('td', {text: t.last_scrape_ms ? v.ago(t.last_scrape_ms / 1000) : 'never'}),
            el('td', {text: d != null ? units.format(d, 'seconds', false) : '–'}), el('td', {class: 'bad', text: t.last_error})));
        }
      }
      body.replaceChildren(rows.length ? el('div', {class: 'table-wrap'}, el('table', {id: 'targets-table'},
        el('thead', {}, el('tr', {}, ['sensor', 'agent', 'type', 'target', 'health', 'interval', 'last reading', 'took', 'last error'].map((h) => el('th', {text: h})))),
        el('tbody', {}, rows))) : notice('info', 'no sensor has been announced yet: see the overview for how to add one'));
      document.body.dataset.loaded = String(Date.now());
    }
    return listPage('Targets', draw);
  }
  v.page('targets', targetsPage());
})();
