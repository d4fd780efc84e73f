// The mixin's `grafanaDashboards`: each contents page (dashboardPages) turned into Grafana
// JSON, keyed by file name (<uid>.json), with the shared defaults (uid, tags, refresh, time
// range, links, variables, layout) applied in this one place.
(import 'queries.libsonnet') +
(import 'panels.libsonnet') +
(import 'requests-overview.libsonnet') +
(import 'llm-usage.libsonnet') +
(import 'brightstaff-queries.libsonnet') +
(import 'brightstaff.libsonnet') +
{
  local c = $._config,
  local ds = { type: 'prometheus', uid: c.datasources.prometheus },

  // One query variable per _config.dashboards.variables entry the dashboard lists, over the
  // values its label has in the span metrics, narrowed by the variables shown before it; All
  // (any value, also none) by default. Refreshed when the time range changes, as chained
  // variables must be.
  local variableDef(name, shownBefore) = {
    local v = c.dashboards.variables[name],
    name: name,
    label: v.title,
    type: 'query',
    datasource: ds,
    query: { query: $.queries.variableValues(name, shownBefore), refId: name },
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { text: ['All'], value: ['$__all'] },
    sort: 1,
  },
  local variableDefs(names) = [variableDef(names[i], names[0:i]) for i in std.range(0, std.length(names) - 1)],

  // Rows of panels, laid out left to right in equal widths, 8 units high; ids number the
  // panels in reading order (unique however many a row holds).
  local layout(rows) =
    local placed = std.flattenArrays([
      local row = rows[r];
      local width = std.floor(24 / std.length(row));
      [row[i] { gridPos: { x: i * width, y: r * 8, w: width, h: 8 } } for i in std.range(0, std.length(row) - 1)]
      for r in std.range(0, std.length(rows) - 1)
    ]);
    [placed[k] { id: k + 1 } for k in std.range(0, std.length(placed) - 1)],

  grafanaDashboards+:: {
    [c.dashboards.uidPrefix + name + '.json']: {
      local d = $.dashboardPages[name],
      uid: c.dashboards.uidPrefix + name,
      title: d.title,
      description: d.description,
      tags: c.dashboards.tags,
      editable: false,
      graphTooltip: 1,
      refresh: c.dashboards.refresh,
      schemaVersion: 41,
      time: { from: c.dashboards.timeFrom, to: 'now' },
      timezone: c.dashboards.timezone,
      links: [{
        title: 'Plano dashboards',
        type: 'dashboards',
        tags: [c.dashboards.tags[0]],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      }],
      templating: { list: if d.variables == [] then [] else variableDefs(d.variables) },
      annotations: { list: [] },
      panels: layout(d.rows),
    }
    for name in std.objectFields($.dashboardPages)
  },
}
