// Unit tests of the dashboard's units.js (issue #24): units from the unit label and the
// name's suffix, counters as rates, values scaled for people, legends that name only the
// labels that differ. Run by ctest as ui.units (node --test).
import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import test from 'node:test';

const require = createRequire(import.meta.url);
const units = require(new URL('../../src/web/ui/units.js', import.meta.url).pathname);

test('the unit label wins; else the name suffix; counters are rates', () => {
  assert.deepEqual(units.describe('boiler_pressure_out', {unit: 'bar', area: 'boiler'}),
                   {rate: false, unit: 'bar', title: 'boiler_pressure_out', display: 'bar'});
  assert.deepEqual(units.describe('node_network_receive_bytes_total', {device: 'eth0'}),
                   {rate: true, unit: 'bytes', title: 'rate(node_network_receive_bytes_total)', display: 'B/s'});
  assert.equal(units.describe('node_cpu_seconds_total', {cpu: '0', mode: 'idle'}).display, '%');
  assert.equal(units.describe('node_memory_MemAvailable_bytes', {}).display, 'B');
  assert.equal(units.describe('node_hwmon_temp_celsius', {}).display, '°C');
  assert.equal(units.describe('probe_duration_seconds', {}).display, 's');
  assert.equal(units.describe('http_requests_total', {}).display, '/s');
  assert.equal(units.describe('node_load1', {}).display, '');
  assert.equal(units.describe('node_filesystem_avail_ratio', {}).display, '%');
  // Metadata (# TYPE, # UNIT) where the name says nothing; a unit label still comes first.
  assert.deepEqual(units.describe('jobs_done', {}, {type: 'counter', unit: ''}),
                   {rate: true, unit: '', title: 'rate(jobs_done)', display: '/s'});
  assert.equal(units.describe('queue_wait', {}, {type: 'gauge', unit: 'seconds'}).display, 's');
  assert.equal(units.describe('tank_level', {unit: 'm'}, {type: 'gauge', unit: 'percent'}).display, 'm');
  assert.equal(units.isCounter('vigil_query_duration_seconds_count'), true);
  assert.equal(units.isCounter('up'), false);
});

test('values are scaled for people', () => {
  assert.equal(units.format(15.25, 'bar', false), '15.3 bar');
  assert.equal(units.format(3.5 * 2 ** 20, 'bytes', true), '3.5 MiB/s');
  assert.equal(units.format(512, 'bytes', false), '512 B');
  assert.equal(units.format(1536, 'bytes', false), '1.5 KiB');
  assert.equal(units.format(0.25, 'seconds', true), '25%');
  assert.equal(units.format(0.0042, 'seconds', false), '4.2 ms');
  assert.equal(units.format(0.000015, 'seconds', false), '15 µs');
  assert.equal(units.format(90, 'seconds', false), '90 s');
  assert.equal(units.format(5400, 'seconds', false), '90 min');
  assert.equal(units.format(0.731, 'ratio', false), '73.1%');
  assert.equal(units.format(2_500_000, '', false), '2.5M');
  assert.equal(units.format(1200, '', true), '1.2k/s');
  assert.equal(units.format(125e6, 'bits', true), '125 Mbit/s');
  assert.equal(units.format(0, 'bytes', false), '0 B');
  assert.equal(units.format(null, 'bytes', false), '–');
  assert.equal(units.format(Infinity, '', false), '+Inf');
  assert.equal(units.format(-3.14159, 'celsius', false), '-3.14 °C');
});

test('axis ticks differ from each other and leave the title\'s unit to it', () => {
  assert.deepEqual(units.axisLabels([15, 15.05, 15.1, 15.15], 'bar', false), ['15', '15.05', '15.1', '15.15']);
  assert.deepEqual(units.axisLabels([0, 2 ** 20, 2 ** 21], 'bytes', true), ['0 B', '1 MiB', '2 MiB']);
  assert.deepEqual(units.axisLabels([0, 0.5, 1], 'seconds', true), ['0%', '50%', '100%']);
  assert.deepEqual(units.axisLabels([1000, 2000], 'cubic_meters_per_hour', false), ['1k', '2k']);
  assert.equal(units.format(1.5, 'bar', false), '1.5 bar');  // back to three digits after
  assert.match(units.axisLabels([1767225605], 'timestamp', false)[0], /^\d\d:\d\d:05$/);
});

test('alerts and points in time are not in their labels\' units', () => {
  assert.equal(units.describe('ALERTS', {alertname: 'x', unit: 'rpm'}).display, '');
  assert.equal(units.describe('process_start_time_seconds', {}).display, '');
  assert.equal(units.format(1767225605, 'timestamp', false).startsWith('2026-01-01') ||
               units.format(1767225605, 'timestamp', false).startsWith('2025-12-31'), true);
});

test('a counter becomes per-second rates, across a reset', () => {
  assert.deepEqual(units.rates([10, 20, 30, 40], [100, 150, 150, 20]),
                   [[20, 30, 40], [5, 0, 2]]);
  assert.deepEqual(units.rates([10], [1]), [[], []]);
});

test('legends name only the labels that differ', () => {
  const cpu = [{__name__: 'x', agent: 'h', cpu: '0', mode: 'idle'},
               {__name__: 'x', agent: 'h', cpu: '0', mode: 'user'},
               {__name__: 'x', agent: 'h', cpu: '1', mode: 'idle'}];
  assert.deepEqual(units.legendLabels(cpu, 'x'), ['cpu=0, mode=idle', 'cpu=0, mode=user', 'cpu=1, mode=idle']);
  assert.deepEqual(units.legendLabels([{agent: 'h', unit: 'bar'}], 'boiler'), ['boiler']);
  assert.deepEqual(units.legendLabels([{a: '1'}, {a: '1', b: '2'}], 'y'), ['b=', 'b=2']);
});

test('times read to the second with their zone', () => {
  assert.equal(units.formatTime(1767225605.5, true), '2026-01-01 00:00:05 UTC');
  assert.match(units.formatTime(1767225605, false), /^2026-01-01 \d\d:\d\d:05 \S+$|^2025-12-31 \d\d:\d\d:05 \S+$/);
});
