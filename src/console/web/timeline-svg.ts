/**
 * Draws a flip's step timeline (layout from timeline.ts) as SVG: a first row with the flip's
 * duration against the tier's RTO, then one lane per step on the flip's own time scale.
 * Percent coordinates, so that it needs no inline style and scales to a phone's width.
 */
import { h, svg } from './dom.js';
import { formatMs, percent } from './format.js';
import type { FlipRecord } from './model.js';
import { layoutFlip, STEPS } from './timeline.js';

const LANE = 18;
const LABEL_W = '22%';
const PLOT_X = '23%';
const PLOT_W = '76%';

export function flipFigure(r: FlipRecord, index: number): HTMLElement {
  const l = layoutFlip(r);
  const when = new Date(r.timings.detectedAt);
  const id = `flip-${index}`;
  const rows = 1 + STEPS.length;
  const height = rows * LANE + 6;
  const title = `${r.from} → ${r.to}, epoch ${r.epoch}: ${formatMs(l.durationMs)} of an RTO of ${formatMs(l.rtoMs)} (${percent(l.ratio)})`;
  const plot = svg('svg', { x: PLOT_X, y: 0, width: PLOT_W, height },
    svg('rect', { class: 'rto-track', x: '0%', y: 3, width: '100%', height: LANE - 6 }),
    svg('rect', { class: `rto-used${l.over ? ' over' : ''}`, x: '0%', y: 3, width: `${l.budget.w}%`, height: LANE - 6 }),
    svg('line', { class: 'rto-mark', x1: `${l.budget.rtoX}%`, x2: `${l.budget.rtoX}%`, y1: 0, y2: LANE }),
    ...l.steps.map((s, i) => svg('rect', { class: `step step-${s.name}`, x: `${s.x}%`, y: (i + 1) * LANE + 3, width: `${s.w}%`, height: LANE - 6, rx: 2 }, svg('title', {}, `${s.name}: ${formatMs(s.endMs - s.startMs)} (ends ${formatMs(s.endMs)} after detection)`))),
  );
  const labels = svg('svg', { x: 0, y: 0, width: LABEL_W, height },
    svg('text', { class: 'lane-label', x: 0, y: LANE - 5 }, `RTO ${percent(l.ratio)}`),
    ...l.steps.map((s, i) => svg('text', { class: 'lane-label', x: 0, y: (i + 2) * LANE - 5 }, `${s.name} ${formatMs(s.endMs - s.startMs)}`)),
  );
  const chart = svg('svg', { class: 'timeline', width: '100%', height, role: 'img', 'aria-labelledby': `${id}-cap` }, labels, plot);
  return h('figure', { class: `flip result-${r.result}`, id },
    h('figcaption', { id: `${id}-cap` },
      h('strong', {}, `${r.from} → ${r.to}`),
      ` epoch ${r.epoch}, ${r.trigger}${r.actor ? ` by ${r.actor}` : ''}, ${r.result}: `,
      h('span', { class: l.over ? 'over' : 'within' }, `${formatMs(l.durationMs)} of RTO ${formatMs(l.rtoMs)} (${percent(l.ratio)})`),
      ' ',
      h('time', { datetime: when.toISOString() }, when.toLocaleString()),
      r.reason ? h('span', { class: 'reason' }, ` — ${r.reason}`) : null,
    ),
    chart,
    h('details', { 'data-key': `flip-${r.epoch}-${r.timings.detectedAt}` },
      h('summary', {}, 'Step times'),
      h('table', { class: 'steps' },
        h('caption', { class: 'visually-hidden' }, title),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col' }, 'Took'), h('th', { scope: 'col' }, 'Done after detection'))),
        h('tbody', {},
          h('tr', {}, h('th', { scope: 'row' }, 'detected'), h('td', {}, '—'), h('td', {}, '0 ms')),
          ...l.steps.map((s) => h('tr', {}, h('th', { scope: 'row' }, s.name), h('td', {}, formatMs(s.endMs - s.startMs)), h('td', {}, formatMs(s.endMs)))),
        ),
      ),
      hookLine('fence', r.fence),
      hookLine('promote', r.promote),
      r.drain ? h('p', {}, `Drain: ${r.drain.inflight} in flight, ${r.drain.finished} finished, ${r.drain.redispatched} re-sent, ${r.drain.cut} cut, ${r.drain.upgrades} upgrades closed.`) : null,
    ),
  );
}

function hookLine(name: string, r: FlipRecord['fence']): HTMLElement | null {
  if (!r) return null;
  return h('p', {}, `${name} hook: ${r.ok ? 'ok' : 'failed'}${r.status !== undefined ? ` (HTTP ${r.status})` : ''}${r.error ? `: ${r.error}` : ''}, ${formatMs(r.durationMs)}.`);
}
