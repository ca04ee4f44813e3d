// The dashboards: a definition from /api/v1/dashboards (src/web/dashboards/*.json, or the
// user's own, docs/dashboard.md) drawn as rows of panels. A panel is PromQL shown one of
// three ways — chart (query_range, a line per series), stat (a tile per series: the
// current value large in its unit, a sparkline, the window's min and max, the threshold
// of an alert rule on that metric) or table (instant queries joined on one label) — or
// one of the status lists: sensors (agents and their sensors), alerts (firing) and targets
// (scrape and probe targets). A row whose queries all come back empty is hidden, so the
// plant row does not show on a plain server. The overview is the definition named
// "overview"; the page shows the empty state while no sensor is announced.
(function () {
  'use strict';
  const {el, api, notice} = window.vigil;
  const units = window.vigilUnits;
  const v = window.vigil;

  // "{{device}} read" with the series' labels; without a template, the labels that differ.
  function legendOf(template, labels) {
    return template.replace(/\{\{\s*([\w]+)\s*\}\}/g, (m, name) => labels[name] ?? '');
  }

  // Alert thresholds by metric, from the alerting rules' simple comparisons
  // (`boiler_pressure_out > 15.45`, `a < 1 or a > 2`).
  async function ruleThresholds() {
    const thresholds = {};
    try {
      const data = await api('rules', {type: 'alert'});
      for (const group of data.groups) {
        for (const rule of group.rules) {
          for (const part of rule.query.split(/\s+or\s+/)) {
            const m = /^\s*([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s*(>=|<=|>|<)\s*(-?[\d.]+(?:e[+-]?\d+)?)\s*$/.exec(part);
            if (!m) continue;
            (thresholds[m[1]] ||= []).push({value: Number(m[4]), label: rule.name});
          }
        }
      }
    } catch (e) { /* no thresholds drawn */ }
    return thresholds;
  }

  // The panels of one definition, each {el, update(window) -> Promise<bool has data>}.
  function makePanel(spec, context) {
    const card = el('section', {class: 'panel panel-' + spec.type, 'data-title': spec.title || '',
                                style: spec.width ? '--span:' + spec.width : null});
    if (spec.title) card.append(el('h3', {text: spec.title}));
    const body = el('div', {class: 'panel-body'});
    card.append(body);
    const make = {chart: chartPanel, stat: statPanel, table: tablePanel, sensors: sensorsPanel,
                  alerts: alertsPanel, targets: targetsPanel}[spec.type];
    return {el: card, update: make(spec, body, card, context)};
  }

  // Runs each query of `spec` over the window; [{labels, legend, points: [[t, v], …]}].
  async function rangeSeries(spec, w, step) {
    const results = await Promise.all(spec.queries.map((q) =>
      api('query_range', {query: q.expr, start: w.start, end: w.end, step})));
    const series = [];
    results.forEach((data, i) => {
      const template = spec.queries[i].legend;
      const list = data.resultType === 'matrix' ? data.result : [];
      const fallback = units.legendLabels(list.map((s) => s.metric), spec.queries[i].expr);
      list.forEach((s, j) => series.push({
        labels: s.metric,
        legend: template ? legendOf(template, s.metric) : fallback[j],
        points: s.values.map(([t, x]) => [t, Number(x)]),
      }));
    });
    return series;
  }

  // Aligns series on the union of their times: [times, values…] for uPlot.
  function align(series) {
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const columns = series.map((s) => {
      const byTime = new Map(s.points);
      return times.map((t) => (byTime.has(t) ? byTime.get(t) : null));
    });
    return [times, ...columns];
  }

  function chartPanel(spec, body, card) {
    let made = null;
    let key = '';
    const area = el('div', {class: 'chart-area'});
    const status = el('div', {class: 'panel-status'});
    body.append(area, status);
    card.dataset.unit = units.displayUnit(spec.unit || '', !!spec.rate);
    return async (w) => {
      const step = v.stepFor(w, area.clientWidth || 400);
      let series;
      try {
        series = await rangeSeries(spec, w, step);
      } catch (e) {
        status.replaceChildren(notice('error', 'query failed: ' + e.message));
        return true;
      }
      status.replaceChildren(series.length ? '' : notice('info', 'no data in this time range'));
      const newKey = series.map((s) => s.legend).join('\u0000') + '|' + w.start + '|' + w.end;
      const data = align(series);
      card.dataset.series = String(series.length);
      card.dataset.points = String(data[0].length);
      if (made && newKey.split('|')[0] === key.split('|')[0] && w.live) {
        made.setWindow(w);
        made.setData(data);
      } else {
        if (made) v.forgetPlot(made);
        made = series.length ? v.plot(area, {labels: series.map((s) => s.legend), unit: spec.unit,
                                              rate: spec.rate, min: spec.min, max: spec.max, window: w}, data) : null;
      }
      key = newKey;
      return series.length > 0;
    };
  }

  // One tile per series: the name, the current value large, a sparkline with the min/max
  // of the window and any alert threshold.
  function statPanel(spec, body, card, context) {
    const tiles = new Map();  // legend -> {el, value, range, plot}
    const grid = el('div', {class: 'tiles'});
    const status = el('div', {class: 'panel-status'});
    body.append(grid, status);
    return async (w) => {
      let series;
      try {
        series = await rangeSeries(spec, w, v.stepFor(w, 300));
      } catch (e) {
        status.replaceChildren(notice('error', 'query failed: ' + e.message));
        return true;
      }
      status.replaceChildren(series.length ? '' : notice('info', 'no data in this time range'));
      const thresholds = await context.thresholds;
      series.sort((a, b) => a.legend.localeCompare(b.legend));
      for (const s of series) {
        const name = s.labels.__name__ || s.legend;
        const how = units.describe(name, s.labels);
        const unit = spec.unit ?? how.unit;
        const rate = spec.rate ?? false;
        let tile = tiles.get(s.legend);
        if (!tile) {
          tile = {value: el('div', {class: 'stat-value'}), range: el('div', {class: 'stat-range'}),
                  area: el('div', {class: 'sparkline'}), plot: null};
          tile.el = el('div', {class: 'tile', 'data-series': s.legend},
                       el('div', {class: 'stat-name', text: s.legend}), tile.value, tile.area, tile.range);
          grid.append(tile.el);
          tiles.set(s.legend, tile);
        }
        const values = s.points.map((p) => p[1]).filter(Number.isFinite);
        const last = s.points.length ? s.points[s.points.length - 1][1] : null;
        const display = units.displayUnit(unit, rate);
        tile.value.replaceChildren(units.format(last, unit, rate).replace(new RegExp(' ?' + escape(display) + '$'), ''),
                                   el('span', {class: 'unit', text: display ? ' ' + display : ''}));
        tile.el.dataset.value = String(last);
        tile.el.dataset.unit = display;
        const lo = Math.min(...values);
        const hi = Math.max(...values);
        tile.range.textContent = values.length
          ? 'min ' + units.format(lo, unit, rate) + ' · max ' + units.format(hi, unit, rate) : '';
        const lines = (thresholds[name] || []).map((t) => ({value: t.value, label: t.label}));
        if (lines.length) tile.range.textContent += ' · alert at ' + lines.map((t) => t.value + (display ? ' ' + display : '')).join(', ');
        tile.el.dataset.thresholds = String(lines.length);
        const times = s.points.map((p) => p[0]);
        // The window's min and max as a band around the line.
        const data = [times, s.points.map((p) => p[1]), times.map(() => lo), times.map(() => hi)];
        if (tile.plot) {
          tile.plot.setWindow(w);
          tile.plot.setData(data);
        } else {
          tile.plot = v.plot(tile.area, {labels: [s.legend, 'min', 'max'], unit, rate, window: w,
                                         thresholds: lines, height: 60, sparkline: true, band: true}, data);
        }
      }
      const shown = new Set(series.map((s) => s.legend));
      for (const [legend, tile] of tiles) {
        if (!shown.has(legend)) { if (tile.plot) v.forgetPlot(tile.plot); tile.el.remove(); tiles.delete(legend); }
      }
      return series.length > 0;
    };
  }
  function escape(text) { return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'); }

  // Instant queries joined on the `by` label: a row per value of it, a column per query.
  function tablePanel(spec, body) {
    const status = el('div', {class: 'panel-status'});
    const table = el('table');
    body.append(el('div', {class: 'table-wrap'}, table), status);
    const cell = (value, unit) => {
      if (value == null) return el('td', {class: 'muted', text: '–'});
      if (unit === 'up') return el('td', {}, v.badge(value === 1 ? 'up' : 'down'));
      if (unit === 'days') return el('td', {class: value < 14 ? 'bad' : '', text: Math.floor(value) + ' d'});
      return el('td', {text: units.format(value, unit || '', false)});
    };
    return async (w) => {
      let results;
      try {
        results = await Promise.all(spec.columns.map((c) => api('query', {query: c.expr, time: w.end})));
      } catch (e) {
        status.replaceChildren(notice('error', 'query failed: ' + e.message));
        return true;
      }
      const rows = new Map();
      results.forEach((data, i) => {
        for (const s of data.resultType === 'vector' ? data.result : []) {
          const key = s.metric[spec.by] ?? '';
          if (!rows.has(key)) rows.set(key, []);
          rows.get(key)[i] = Number(s.value[1]);
        }
      });
      table.replaceChildren(
        el('thead', {}, el('tr', {}, el('th', {text: spec.by}), spec.columns.map((c) => el('th', {text: c.title})))),
        el('tbody', {}, [...rows.keys()].sort().map((key) => el('tr', {'data-key': key}, el('td', {text: key}),
          spec.columns.map((c, i) => cell(rows.get(key)[i], c.unit))))));
      status.replaceChildren(rows.size ? '' : notice('info', 'nothing at the end of this time range'));
      return rows.size > 0;
    };
  }

  // Agents with their sensors: state and the time of the last reading.
  function sensorsPanel(spec, body) {
    return async () => {
      let sensors;
      try { sensors = await api('sensors'); } catch (e) { body.replaceChildren(notice('error', e.message)); return true; }
      const byAgent = new Map();
      for (const s of sensors) (byAgent.get(s.agent) || byAgent.set(s.agent, []).get(s.agent)).push(s);
      body.replaceChildren(sensors.length ? '' : notice('info', 'no agent has announced a sensor yet'),
        ...[...byAgent].map(([agent, list]) => el('div', {class: 'agent', 'data-agent': agent},
          el('h4', {}, 'agent ', el('b', {text: agent}), el('span', {class: 'muted', text: ' · ' + list.length + ' sensors'})),
          el('ul', {class: 'list'}, list.map((s) => el('li', {'data-sensor': s.name, 'data-state': s.state},
            v.badge(s.state), ' ', el('b', {text: s.name}),
            el('span', {class: 'muted', text: ' ' + s.type + ' · every ' + s.interval_ms / 1000 + ' s · last reading ' +
              (s.last_seen_ms ? v.ago(s.last_seen_ms / 1000) : 'never')}),
            s.last_error ? el('div', {class: 'bad', text: s.last_error}) : null))))));
      return true;
    };
  }

  function alertItem(a, expr) {
    const labels = Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity')
      .map(([k, x]) => k + '=' + x).join(', ');
    const since = Date.parse(a.activeAt) / 1000;
    return el('li', {class: 'alert ' + (a.labels.severity || 'warning'), 'data-alert': a.labels.alertname, 'data-state': a.state},
      v.badge(a.state), ' ',
      el('span', {class: 'severity', text: a.labels.severity || 'warning'}), ' ',
      el('b', {text: a.labels.alertname}), ' ',
      el('span', {class: 'summary', text: (a.annotations && a.annotations.summary) || labels}),
      el('div', {class: 'muted since'}, (a.state === 'firing' ? 'firing for ' : 'pending for ') + v.lasting(Date.now() / 1000 - since) +
        ' (since ' + units.formatTime(since, v.utc()) + ')' + (labels && a.annotations && a.annotations.summary ? ' · ' + labels : ''),
      expr ? el('span', {}, ' · ', el('a', {href: v.link('explore', '', {q: expr}), text: 'rule'})) : null));
  }

  function alertsPanel(spec, body) {
    return async () => {
      let data;
      try { data = await api('alerts'); } catch (e) { body.replaceChildren(notice('error', e.message)); return true; }
      const firing = data.alerts.filter((a) => a.state === 'firing');
      body.replaceChildren(firing.length ? el('ul', {class: 'list'}, firing.map((a) => alertItem(a)))
        : notice('ok', 'nothing is firing'));
      return true;
    };
  }

  function targetsPanel(spec, body) {
    return async () => {
      let data;
      try { data = await api('targets'); } catch (e) { body.replaceChildren(notice('error', e.message)); return true; }
      const list = data.activeTargets;
      body.replaceChildren(list.length ? el('div', {class: 'table-wrap'}, el('table', {},
        el('thead', {}, el('tr', {}, ['target', 'job', 'health', 'last scrape', 'took', 'error'].map((h) => el('th', {text: h})))),
        el('tbody', {}, list.map((t) => el('tr', {'data-target': t.scrapeUrl},
          el('td', {text: t.scrapeUrl}), el('td', {text: t.scrapePool}),
          el('td', {}, v.badge(t.health)),
          el('td', {text: t.lastScrape && !t.lastScrape.startsWith('0001') ? v.ago(Date.parse(t.lastScrape) / 1000) : 'never'}),
          el('td', {text: units.format(t.lastScrapeDuration, 'seconds', false)}),
          el('td', {class: 'bad', text: t.lastError})))))) : notice('info', 'no scrape or probe targets'));
      return list.length > 0;
    };
  }

  // A definition drawn into `main`; returns {refresh(), stop()}.
  function drawDashboard(main, listed) {
    const definition = listed.definition;
    const context = {thresholds: null};
    main.append(el('h2', {class: 'page-title', text: definition.title}));
    if (definition.description) main.append(el('p', {class: 'muted description', text: definition.description}));
    const rows = definition.rows.map((row) => {
      const panels = row.panels.map((p) => makePanel(p, context));
      const section = el('section', {class: 'row', 'data-row': row.title || ''},
                         row.title ? el('h2', {text: row.title}) : null,
                         el('div', {class: 'panels'}, panels.map((p) => p.el)));
      main.append(section);
      return {section, panels};
    });
    let running = false;
    const refresh = async () => {
      if (running) return;
      running = true;
      const w = v.timeWindow();
      context.thresholds = ruleThresholds();  // rules can be reloaded
      await Promise.all(rows.map(async ({section, panels}) => {
        const has = await Promise.all(panels.map((p) => p.update(w)));
        section.hidden = !has.some(Boolean);  // shown again once a panel has data
      }));
      running = false;
      // For bench/dashboard-paint.mjs: when the page's panels were first drawn.
      if (!performance.getEntriesByName('vigil-dashboard-drawn').length) performance.mark('vigil-dashboard-drawn');
      document.body.dataset.loaded = String(Date.now());
    };
    refresh();
    v.scheduleRefresh(v.parseDuration(definition.refresh || '5s'));
    return {refresh};
  }

  // The empty state: no sensors and nothing written yet.
  function emptyState() {
    return el('div', {id: 'empty', class: 'empty-state', hidden: true},
      el('h2', {text: 'No sensors yet'}),
      el('p', {}, 'Add ', el('code', {text: '[[sensors]]'}), ' tables to the config (docs/sensors.md) and restart, run ',
        el('code', {text: 'vigil sensor'}), ' on the machines to watch, or write to this server: Prometheus remote write to ',
        el('code', {text: '/api/v1/write'}), ', InfluxDB line protocol to ', el('code', {text: '/write'}),
        '. What arrives is drawn at once under ', el('a', {href: '#/series', text: 'All series'}), '.'));
  }

  function dashboardPage(nameOf) {
    let current = null;
    return {
      render(main, arg) {
        const name = nameOf(arg);
        const listed = v.dashboard(name);
        current = null;
        if (name === 'overview') {
          const empty = emptyState();
          main.append(empty);
          api('sensors').then((s) => { empty.hidden = s.length > 0; }, () => {});
        }
        if (!listed) { main.append(notice('error', 'no dashboard named "' + name + '"')); return; }
        if (listed.error) { main.append(notice('error', listed.error)); return; }
        current = drawDashboard(main, listed);
      },
      refresh() { if (current) current.refresh(); },
    };
  }
  v.alertItem = alertItem;
  v.page('overview', dashboardPage(() => 'overview'));
  v.page('d', dashboardPage((arg) => arg));
})();
