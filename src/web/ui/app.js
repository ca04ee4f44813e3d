// vigil's dashboard, the frame every page shares (docs/dashboard.md): the menu of pages
// (the overview and the other dashboard definitions from /api/v1/dashboards, all series,
// Explore, alerts, targets), the time picker (a relative range that follows now, or an
// absolute from/to; zoom and pan; UTC or local), the theme, the live-stream state and the
// firing-alert counter. Every page keeps its state in the URL's fragment
// (#/explore?q=…&range=1h), so a page can be shared and Back works.
//
// A page is registered with vigil.page(name, {render(main, arg), refresh(), stop()}):
// render builds it into <main>, refresh reloads it for a new time window (and, while the
// window follows now, every few seconds), stop ends what it started. vigil.plot draws a
// uPlot chart in the page's colours, units and time zone (units.js). Plain JavaScript, no
// build step: the files are compiled into the binary as they are.
(function () {
  'use strict';
  const units = window.vigilUnits;
  const RANGES = [['5m', 300], ['15m', 900], ['1h', 3600], ['6h', 21600], ['24h', 86400],
                  ['7d', 604800]];
  const DEFAULT_RANGE = '5m';
  const pages = new Map();
  const state = {page: null, name: '', arg: '', params: new URLSearchParams()};
  let plots = [];  // {plot, area, height} of the page shown, resized with the window
  let refreshTimer = null;
  let dashboards = null;  // /api/v1/dashboards's list, once loaded

  const $ = (selector, root = document) => root.querySelector(selector);

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k.startsWith('data-')) e.dataset[k.slice(5).replace(/-(.)/g, (m, c) => c.toUpperCase())] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c != null) e.append(c);
    return e;
  }

  // GET an /api/v1 endpoint; resolves to its `data`, rejects with its error text (and, for
  // a query, the error's position "1:19: …" as error.position).
  async function api(path, params = {}) {
    let response;
    try {
      response = await fetch('/api/v1/' + path + '?' + new URLSearchParams(params));
    } catch (e) {
      throw new Error('the server cannot be reached');
    }
    let body;
    try { body = await response.json(); } catch (e) { throw new Error('HTTP ' + response.status); }
    if (body.status !== 'success') {
      const error = new Error(body.error || 'HTTP ' + response.status);
      const at = /^(\d+):(\d+): /.exec(body.error || '');
      if (at) error.position = {line: Number(at[1]), column: Number(at[2])};
      throw error;
    }
    return body.data;
  }

  // ---- time ----

  function parseDuration(text) {
    const m = /^(\d+)([smhdw])$/.exec(text || '');
    return m ? Number(m[1]) * {s: 1, m: 60, h: 3600, d: 86400, w: 604800}[m[2]] : null;
  }
  function formatDuration(seconds) {
    for (const [unit, size] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]]) {
      if (seconds >= size && seconds % size === 0) return seconds / size + unit;
    }
    return Math.round(seconds) + 's';
  }
  function utc() { return state.params.get('tz') === 'utc'; }

  // The time window shown: {start, end, live} in seconds; live while it follows now.
  function timeWindow() {
    const from = Number(state.params.get('from'));
    const to = Number(state.params.get('to'));
    if (from && to && to > from) return {start: from, end: to, live: false};
    const range = parseDuration(state.params.get('range')) || parseDuration(DEFAULT_RANGE);
    const end = Date.now() / 1000;
    return {start: end - range, end, live: true};
  }
  // A query_range step that gives about one point per 2 pixels of `width`.
  function stepFor(window, width) {
    return Math.max(1, Math.ceil((window.end - window.start) / Math.max(100, width / 2)));
  }

  // "2026-12-04 18:30:05" in the zone shown, and back.
  function formatInput(seconds) { return units.formatTime(seconds, utc()).slice(0, 19); }
  function parseInput(text) {
    const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?$/.exec(text.trim());
    if (!m) return null;
    const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x || 0));
    const ms = utc() ? Date.UTC(y, mo - 1, d, h, mi, s) : new Date(y, mo - 1, d, h, mi, s).getTime();
    return ms / 1000;
  }

  function setTime({range, from, to}) {
    const params = new URLSearchParams(state.params);
    for (const k of ['range', 'from', 'to']) params.delete(k);
    if (from != null) { params.set('from', String(Math.round(from))); params.set('to', String(Math.round(to))); }
    else if (range && range !== DEFAULT_RANGE) params.set('range', range);
    navigate(state.name, state.arg, params);
  }

  // Zoomed or panned: the new window, absolute.
  function zoomTo(start, end) { if (end - start >= 1) setTime({from: start, to: end}); }
  function pan(fraction) {
    const w = timeWindow();
    const shift = (w.end - w.start) * fraction;
    const now = Date.now() / 1000;
    if (w.end + shift >= now) { setTime({range: formatDuration(Math.round(w.end - w.start))}); return; }
    zoomTo(w.start + shift, w.end + shift);
  }
  function zoomOut() {
    const w = timeWindow();
    const half = (w.end - w.start) / 2;
    if (w.live) { setTime({range: formatDuration(Math.round(4 * half))}); return; }
    zoomTo(w.start - half, Math.min(Date.now() / 1000, w.end + half));
  }

  function renderTimePicker() {
    const w = timeWindow();
    const select = $('#range');
    const range = state.params.get('range') || DEFAULT_RANGE;
    if (w.live && ![...select.options].some((o) => o.value === range)) {
      select.append(el('option', {value: range, text: 'last ' + range}));
    }
    select.value = w.live ? range : 'custom';
    $('#from').value = formatInput(w.start);
    $('#to').value = formatInput(w.end);
    $('#from').disabled = $('#to').disabled = false;
    $('#live').setAttribute('aria-pressed', String(w.live));
    $('#live').textContent = w.live ? '● live' : '▶ back to live';
    const zone = utc() ? 'UTC' : units.formatTime(Date.now() / 1000, false).slice(20) || 'local';
    $('#zone').textContent = zone;
    $('#zone').title = utc() ? 'times in UTC; click for local time' : 'times in local time; click for UTC';
    document.body.dataset.live = String(w.live);
  }

  function setUpTimePicker() {
    const select = $('#range');
    for (const [name] of RANGES) select.append(el('option', {value: name, text: 'last ' + name}));
    select.append(el('option', {value: 'custom', text: 'from – to', disabled: true}));
    select.addEventListener('change', () => setTime({range: select.value}));
    $('#time-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const from = parseInput($('#from').value);
      const to = parseInput($('#to').value);
      const error = $('#time-error');
      if (from == null || to == null || to <= from) {
        error.textContent = 'from and to as YYYY-MM-DD HH:MM:SS, from before to';
        error.hidden = false;
        return;
      }
      error.hidden = true;
      zoomTo(from, to);
    });
    $('#earlier').addEventListener('click', () => pan(-0.5));
    $('#later').addEventListener('click', () => pan(0.5));
    $('#zoom-out').addEventListener('click', zoomOut);
    $('#live').addEventListener('click', () => {
      const w = timeWindow();
      // Live again over the shortest of the picker's ranges that holds the window shown.
      const fits = RANGES.find(([, seconds]) => seconds >= w.end - w.start) || RANGES[RANGES.length - 1];
      setTime({range: w.live ? state.params.get('range') || DEFAULT_RANGE : fits[0]});
    });
    $('#zone').addEventListener('click', () => {
      const params = new URLSearchParams(state.params);
      if (utc()) params.delete('tz'); else params.set('tz', 'utc');
      localStorage.setItem('vigil.tz', utc() ? 'local' : 'utc');
      navigate(state.name, state.arg, params);
    });
  }

  // ---- theme ----

  function theme() {
    const chosen = document.documentElement.dataset.theme;
    if (chosen) return chosen;
    return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  function setUpTheme() {
    const saved = localStorage.getItem('vigil.theme');
    if (saved) document.documentElement.dataset.theme = saved;
    const button = $('#theme');
    const label = () => {
      button.textContent = theme() === 'dark' ? '☀ light' : '☾ dark';
      button.title = 'switch to the ' + (theme() === 'dark' ? 'light' : 'dark') + ' theme';
    };
    label();
    button.addEventListener('click', () => {
      const next = theme() === 'dark' ? 'light' : 'dark';
      document.documentElement.dataset.theme = next;
      localStorage.setItem('vigil.theme', next);
      label();
      show();  // the charts take the new colours
    });
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { label(); show(); });
  }

  // ---- charts ----

  const PALETTE = {
    light: ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'],
    dark: ['#5fa8e8', '#ff6b6b', '#6fd36f', '#ffa94d', '#b99af0', '#d0a080', '#f29ad8', '#4fd8e8', '#b0b0b0', '#d8d860'],
  };
  function colour(i) { const p = PALETTE[theme()]; return p[i % p.length]; }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  // A time chart in `area`: data = [times, values of series 0, …]. options: labels (one per
  // series), unit and rate (units.js), min/max (fixed y bounds), window ({start, end}: the
  // x range; plot.setWindow(w) moves it), band (series 1 and 2 are a band's edges), thresholds ([{value, label}], dashed lines), height, sparkline (no axes, no
  // legend), legend (false: none; the caller draws one).
  function plot(area, options, data) {
    const {labels, unit = '', rate = false, height = 200, sparkline = false, band = false} = options;
    const shown = {window: options.window};  // the x range; setWindow changes it
    const width = Math.max(120, area.clientWidth || 300);
    const fg = cssVar('--fg');
    const grid = cssVar('--grid');
    const thresholds = options.thresholds || [];
    const axis = {stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}};
    const yRange = (u, dataMin, dataMax) => {
      let lo = options.min ?? dataMin;
      let hi = options.max ?? dataMax;
      for (const t of thresholds) { lo = Math.min(lo ?? t.value, t.value); hi = Math.max(hi ?? t.value, t.value); }
      if (lo == null || hi == null) return [0, 1];
      if (lo === hi) { const pad = Math.abs(lo) * 0.05 || 1; return [lo - pad, hi + pad]; }
      const pad = (hi - lo) * 0.05;
      return [options.min ?? lo - pad, options.max ?? hi + pad];
    };
    const made = new uPlot({
      width, height,
      tzDate: (ts) => (utc() ? uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : new Date(ts * 1000)),
      scales: {
        x: {time: true, range: (u, lo, hi) => (shown.window ? [shown.window.start, shown.window.end] : [lo, hi])},
        y: {range: yRange},
      },
      // Under the cursor the legend shows the values at its time; away from it, each
      // series' latest value (uPlot asks with idx null then).
      series: [{value: (u, t, sidx, idx) => {
        const at = idx == null ? latest(u, 0) : t;
        return at == null ? '' : units.formatTime(at, utc());
      }}].concat(labels.map((label, i) => ({
        label,
        // With a band, series 1 and 2 are its low and high edges, drawn as the fill only.
        stroke: band && i > 0 ? 'transparent' : colour(i),
        width: sparkline ? 1.5 : 1.25,
        spanGaps: false,
        points: {show: false},
        value: (u, v, sidx, idx) => units.format(idx == null ? latest(u, sidx) : v, unit, rate),
      }))),
      axes: sparkline ? [{show: false}, {show: false}] : [
        {...axis, space: 70},
        {
          ...axis,
          values: (u, splits) => units.axisLabels(splits, unit, rate),
          // As wide as its longest label, so none is cut off.
          size: (u, values) => 20 + 7.5 * Math.max(3, ...(values || []).map((v) => v.length)),
        }],
      bands: band ? [{series: [3, 2], fill: cssVar('--band')}] : [],
      // Clicking a series in the legend shows it alone (again: all); Ctrl+click hides it.
      legend: {show: !sparkline, live: true, isolate: true},
      cursor: sparkline ? {show: false} : {drag: {x: true, y: false, setScale: false}},
      hooks: {
        // Dragging across a chart zooms every chart of the page to that time.
        setSelect: [(u) => {
          if (u.select.width < 5) return;
          const start = u.posToVal(u.select.left, 'x');
          const end = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({left: 0, width: 0, top: 0, height: 0}, false);
          zoomTo(start, end);
        }],
        draw: [(u) => {
          const ctx = u.ctx;
          for (const t of thresholds) {
            const y = u.valToPos(t.value, 'y', true);
            ctx.save();
            ctx.strokeStyle = cssVar('--bad');
            ctx.setLineDash([5, 4]);
            ctx.lineWidth = devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.restore();
          }
        }],
      },
    }, data, area);
    if (labels.length > 8) area.classList.add('many-series');
    made.setWindow = (w) => { shown.window = w; };
    plots.push({plot: made, area, height});
    return made;
  }
  // The last value of series `sidx` that is not null: what the legend shows away from the cursor.
  function latest(u, sidx) {
    const column = u.data[sidx] || [];
    let j = column.length - 1;
    while (j >= 0 && column[j] == null) j--;
    return j >= 0 ? column[j] : null;
  }
  function forgetPlot(made) { plots = plots.filter((p) => p.plot !== made); made.destroy(); }

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const {plot: p, area, height} of plots) p.setSize({width: Math.max(120, area.clientWidth), height});
    }, 100);
  });

  // "3 s ago", "5 min ago", "2 h ago".
  function ago(seconds) {
    const s = Math.max(0, Date.now() / 1000 - seconds);
    return s < 90 ? Math.round(s) + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago'
      : s < 172800 ? Math.round(s / 3600) + ' h ago' : Math.round(s / 86400) + ' d ago';
  }
  // A duration in seconds as "45 s", "3 min", "2 h".
  function lasting(seconds) { return ago(Date.now() / 1000 - seconds).replace(' ago', ''); }

  // A state as a coloured badge: good (up, online, inactive, resolved), bad (down, offline,
  // firing), or in between (stale, pending, unknown …).
  const GOOD = ['up', 'online', 'inactive', 'resolved'];
  const BAD = ['down', 'offline', 'firing'];
  function badge(state) {
    const kind = GOOD.includes(state) ? 'online' : BAD.includes(state) ? 'down' : 'stale';
    return el('span', {class: 'state ' + kind, text: state});
  }

  // A message where something would be: what failed or what is missing, and what to do.
  function notice(kind, text) { return el('p', {class: 'notice ' + kind, role: kind === 'error' ? 'alert' : null, text}); }

  // ---- pages and the menu ----

  function page(name, handlers) { pages.set(name, handlers); }

  function parseHash() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [path, query = ''] = hash.split('?');
    const [name, ...rest] = path.split('/');
    return {name: name || 'overview', arg: decodeURIComponent(rest.join('/')), params: new URLSearchParams(query)};
  }

  function navigate(name, arg = '', params = state.params, replace = false) {
    const query = params.toString();
    const hash = '#/' + name + (arg ? '/' + encodeURIComponent(arg) : '') + (query ? '?' + query : '');
    if (location.hash === hash) { show(); return; }
    if (replace) { history.replaceState(null, '', hash); show(); } else { location.hash = hash; }
  }
  // Keeps the time and zone when going to another page.
  function link(name, arg = '', extra = {}) {
    const params = new URLSearchParams();
    for (const k of ['range', 'from', 'to', 'tz']) if (state.params.has(k)) params.set(k, state.params.get(k));
    for (const [k, v] of Object.entries(extra)) params.set(k, v);
    const query = params.toString();
    return '#/' + name + (arg ? '/' + encodeURIComponent(arg) : '') + (query ? '?' + query : '');
  }

  // Asked for at once, before the page has finished loading: the first page needs it.
  const dashboardsLoading = api('dashboards');
  async function loadDashboards() {
    try { dashboards = await dashboardsLoading; } catch (e) { dashboards = []; }
    renderMenu();
    return dashboards;
  }
  function dashboard(name) {
    return (dashboards || []).find((d) => d.name === name);
  }

  function renderMenu() {
    const nav = $('#menu ul');
    nav.innerHTML = '';
    const item = (name, arg, text) => {
      const current = state.name === name && (state.arg || '') === (arg || '');
      return el('li', {}, el('a', {href: link(name, arg), 'aria-current': current ? 'page' : null, text}));
    };
    nav.append(item('overview', '', 'Overview'));
    for (const d of dashboards || []) {
      if (d.name === 'overview') continue;
      nav.append(item('d', d.name, d.definition ? d.definition.title : d.name + ' (broken)'));
    }
    nav.append(item('series', '', 'All series'), item('explore', '', 'Explore'),
               item('alerts', '', 'Alerts'), item('targets', '', 'Targets'));
    const firing = Number(document.body.dataset.firing || 0);
    const alertsLink = $('a[href^="#/alerts"]', nav);
    if (firing) alertsLink.append(' ', el('span', {class: 'badge bad', text: String(firing), title: firing + ' firing'}));
  }

  function show() {
    const {name, arg, params} = parseHash();
    if (!params.has('tz') && localStorage.getItem('vigil.tz') === 'utc') {
      params.set('tz', 'utc');
      navigate(name, arg, params, true);
      return;
    }
    if (state.page && state.page.stop) state.page.stop();
    clearInterval(refreshTimer);
    for (const {plot: p} of plots) p.destroy();
    plots = [];
    Object.assign(state, {name, arg, params, page: pages.get(name) || pages.get('overview')});
    document.body.dataset.page = pages.has(name) ? name : 'overview';
    document.body.classList.remove('menu-open');
    renderMenu();
    renderTimePicker();
    const main = $('#page');
    main.innerHTML = '';
    state.page.render(main, arg);
    scheduleRefresh();
  }

  // While the window follows now, the page reloads every `refresh` (its dashboard's, or 5 s).
  function scheduleRefresh(seconds) {
    clearInterval(refreshTimer);
    const w = timeWindow();
    if (!w.live || !state.page.refresh) return;
    refreshTimer = setInterval(() => { renderTimePicker(); state.page.refresh(); }, (seconds || 5) * 1000);
  }

  // ---- the live stream's state and the alert counter ----

  function liveState(text, kind) {
    const badge = $('#connection');
    badge.textContent = text;
    badge.className = 'state ' + kind;
  }

  async function countAlerts() {
    try {
      const data = await api('alerts');
      const firing = data.alerts.filter((a) => a.state === 'firing').length;
      document.body.dataset.firing = String(firing);
      $('#server-down').hidden = true;
      renderMenu();
    } catch (e) {
      $('#server-down').hidden = false;
    }
  }

  function start() {
    setUpTimePicker();
    setUpTheme();
    $('#menu-button').addEventListener('click', () => {
      const open = document.body.classList.toggle('menu-open');
      $('#menu-button').setAttribute('aria-expanded', String(open));
    });
    window.addEventListener('hashchange', show);
    // Keys: g then o/s/e/a/t goes to a page; "/" focuses Explore's query box.
    let pendingG = false;
    document.addEventListener('keydown', (event) => {
      if (event.target.closest('input, textarea, select')) return;
      if (event.key === '/' && state.name === 'explore') { event.preventDefault(); $('#query').focus(); return; }
      if (pendingG) {
        pendingG = false;
        const target = {o: 'overview', s: 'series', e: 'explore', a: 'alerts', t: 'targets'}[event.key];
        if (target) navigate(target, '', new URLSearchParams(link(target).split('?')[1] || ''));
        return;
      }
      pendingG = event.key === 'g';
    });
    countAlerts();
    setInterval(countAlerts, 5000);
    loadDashboards().then(show);
  }

  window.vigil = {
    page, api, el, badge, plot, forgetPlot, timeWindow, stepFor, navigate, link, notice, ago,
    lasting, utc, dashboard, liveState, scheduleRefresh, parseDuration, countAlerts,
    params: () => state.params,
  };
  document.addEventListener('DOMContentLoaded', start);
})();
