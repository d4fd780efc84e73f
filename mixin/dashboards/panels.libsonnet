// A small family of panel constructors on one base. Every panel gets a description,
// a unit and the Prometheus datasource by its fixed uid; layout is applied later.
{
  panels+:: {
    local c = $._config,
    local ds = { type: 'prometheus', uid: c.datasources.prometheus },

    target(expr, legend='__auto', refId='A', instant=false, exemplar=false):: {
      datasource: ds,
      expr: expr,
      legendFormat: legend,
      refId: refId,
      range: !instant,
      instant: instant,
      exemplar: exemplar,
    },

    base(type, title, description, unit, targets):: {
      assert description != '' : 'panel "%s" needs a description' % title,
      type: type,
      title: title,
      description: description,
      datasource: ds,
      targets: [t { refId: std.char(65 + i) } for i in std.range(0, std.length(targets) - 1) for t in [targets[i]]],
      fieldConfig: { defaults: { unit: unit }, overrides: [] },
      options: {},
    },

    timeseries(title, description, unit, targets):: self.base('timeseries', title, description, unit, targets) {
      fieldConfig+: { defaults+: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never' } } },
      options: { legend: { displayMode: 'table', placement: 'right', calcs: ['mean', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
    },

    // Per-second rates.
    rate(title, description, targets, unit='reqps'):: self.timeseries(title, description, unit, targets) {
      fieldConfig+: { defaults+: { min: 0 } },
    },

    // A share of the whole (0–1), with a warning and a critical threshold.
    share(title, description, targets):: self.timeseries(title, description, 'percentunit', targets) {
      fieldConfig+: {
        defaults+: {
          min: 0,
          max: 1,
          thresholds: { mode: 'absolute', steps: [
            { color: 'green', value: null },
            { color: 'orange', value: c.alerts.llmErrorRatio },
            { color: 'red', value: 4 * c.alerts.llmErrorRatio },
          ] },
          custom+: { thresholdsStyle: { mode: 'line' } },
        },
      },
    },

    // Latency percentiles; exemplars make each point a link to its trace in Tempo.
    latency(title, description, targets, unit='ms'):: self.timeseries(title, description, unit, [t { exemplar: true } for t in targets]),

    // Tempo's service graph as a node graph: Grafana's Tempo datasource turns a serviceMap
    // query into instant queries of the service-graph metrics on its Prometheus datasource.
    serviceMap(title, description):: self.base('nodeGraph', title, description, 'reqps', []) {
      local tempo = { type: 'tempo', uid: c.datasources.tempo },
      datasource: tempo,
      targets: [{ datasource: tempo, queryType: 'serviceMap', refId: 'A' }],
      options: { nodes: {}, edges: {} },
    },

    // Traces from Tempo as a table (Grafana links each trace id to its trace view).
    traceTable(title, description, query):: self.base('table', title, description, 'ms', []) {
      local tempo = { type: 'tempo', uid: c.datasources.tempo },
      datasource: tempo,
      targets: [{ datasource: tempo, queryType: 'traceql', query: query, limit: c.dashboards.traceRows, tableType: 'traces', refId: 'A' }],
      options: { showHeader: true },
    },

    // Percent-encoding for URL query values (RFC 3986 unreserved characters kept).
    local unreserved = std.set(std.stringChars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~')),
    local encode(s) = std.join('', [
      if std.setMember(ch, unreserved) then ch else '%%%02X' % std.codepoint(ch)
      for ch in std.stringChars(s)
    ]),
    // A data link that opens Explore on Tempo with a TraceQL query over the dashboard's time
    // range. The query names Grafana variables by token (`vars`: token → variable, e.g.
    // MODEL → __field.labels.llm_model); the URL is percent-encoded around them, and each is
    // left as ${variable:percentencode} for Grafana to fill in when the link is followed.
    traceLink(title, query, vars={}):: {
      local tempo = { type: 'tempo', uid: c.datasources.tempo },
      local all = vars { FROMTIME: '__from', TOTIME: '__to' },
      local pane = { datasource: tempo.uid, queries: [{ refId: 'A', datasource: tempo, queryType: 'traceql', query: query }], range: { from: 'FROMTIME', to: 'TOTIME' } },
      title: title,
      url: std.foldl(
        function(url, token) std.strReplace(url, token, '${%s:percentencode}' % all[token]),
        std.objectFields(all),
        '/explore?schemaVersion=1&panes=' + encode(std.manifestJsonMinified({ traces: pane }))
      ),
    },
    withLinks(links):: { fieldConfig+: { defaults+: { links: links } } },

    // A single number per series, from an instant query.
    stat(title, description, targets, unit='short'):: self.base('stat', title, description, unit, [t { instant: true, range: false } for t in targets]) {
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'value',
        graphMode: 'none',
        textMode: 'value_and_name',
      },
    },
  },
}
