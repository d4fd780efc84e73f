// Validation of a user's override mixin: only `_config` may be overridden, and only
// with keys that exist, so a typo fails the build instead of being silently ignored. An
// object whose default is empty ({}: headers, labels) is a map of the user's own keys.
local freeMap(d) = std.isObject(d) && std.objectFieldsAll(d) == [];
local walk(defaults, override, path) =
  std.foldl(
    function(ok, k)
      local here = path + '.' + k;
      if !std.objectHasAll(defaults, k) then
        error 'unknown override key %s (known keys: %s)' % [here, std.join(', ', std.objectFields(defaults))]
      else if std.isObject(override[k]) && std.isObject(defaults[k]) && !freeMap(defaults[k]) then
        ok && walk(defaults[k], override[k], here)
      else ok,
    std.objectFieldsAll(override),
    true
  );


// Each value a user sets must be one its component accepts, so a bad one fails the build
// naming its key instead of ending in a Python traceback or a component's usage text at
// start: ports, the bind address and durations by their own rules, the rest by the type of
// their default. Only the keys an override sets are checked (the defaults are linted).
local show(v) = if std.isString(v) then std.escapeStringJson(v) else std.toString(v);
local need(ok, path, v, what, remedy) = ok || error '%s is %s, not %s — %s' % [path, show(v), what, remedy];

local port(path, v) =
  need(std.isNumber(v) && v == std.floor(v) && v >= 1 && v <= 65535,
       path,
       v,
       'a port',
       if std.isString(v) then 'write the number without quotes, from 1 to 65535' else 'use a whole number from 1 to 65535');

// Host ports are all bound on one machine in native mode: two components cannot share one.
local distinctPorts(path, ports) =
  std.isObject(std.foldl(function(seen, k)
    local p = std.toString(ports[k]);
    if std.objectHas(seen, p) then error '%s.%s and %s.%s are both %s — give each its own port' % [path, seen[p], path, k, p]
    else seen { [p]: k }, std.objectFields(ports), {}));

local ipv4(path, v) =
  local parts = if std.isString(v) then std.split(v, '.') else [];
  local octet(p) = std.length(p) >= 1 && std.length(p) <= 3
                   && std.all([c >= '0' && c <= '9' for c in std.stringChars(p)]) && std.parseInt(p) <= 255;
  need(std.length(parts) == 4 && std.all([octet(p) for p in parts]),
       path,
       v,
       'an IPv4 address',
       "use a quoted address: '127.0.0.1' (this machine only) or '0.0.0.0' (every interface)");

// '1h30m' → [['1', 'h'], ['30', 'm']]: each number (digits, and '.' when `decimal`) with the
// unit after it; null when the text is not such pairs.
local isDigit(c) = c >= '0' && c <= '9';
local pairs(s, decimal) =
  local n = std.length(s);
  local number(i) = if i < n && (isDigit(s[i]) || decimal && s[i] == '.') then number(i + 1) else i;
  local unit(i) = if i < n && !isDigit(s[i]) && s[i] != '.' then unit(i + 1) else i;
  local from(i) =
    if i == n then []
    else
      local j = number(i), k = unit(j);
      local rest = if j == i || k == j then null else from(k);
      if rest == null then null else [[s[i:j], s[j:k]]] + rest;
  if n == 0 then null else from(0);
local nonZero(num) = std.any([isDigit(c) && c != '0' for c in std.stringChars(num)]);

// Prometheus (model.Duration): whole numbers, units largest first, each at most once.
local promUnits = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
local promDuration(path, v) =
  local p = if std.isString(v) then pairs(v, false) else null;
  local at = if p == null then [] else [std.find(u[1], promUnits) for u in p];
  need(p != null && std.all([a != [] for a in at])
       && std.all([at[i][0] < at[i + 1][0] for i in std.range(0, std.length(at) - 2)])
       && std.any([nonZero(u[0]) for u in p]),
       path,
       v,
       'a positive Prometheus duration',
       "use whole numbers with units y, w, d, h, m, s, ms, largest first: e.g. '15d', '48h', '1h30m', '5s'");

// Go (time.ParseDuration), as the collector and Tempo read them: no days.
local goUnits = ['h', 'm', 's', 'ms', 'us', 'µs', 'ns'];
local goDuration(path, v) =
  local p = if std.isString(v) then pairs(v, true) else null;
  need(p != null && std.all([std.member(goUnits, u[1]) && u[0] != '.' && std.count(std.stringChars(u[0]), '.') <= 1 for u in p])
       && std.any([nonZero(u[0]) for u in p]),
       path,
       v,
       'a positive Go duration',
       "use numbers with units h, m, s, ms, us, ns (no d: two days is '48h'): e.g. '48h', '5s', '1m30s'");
local goDurations(path, v) =
  need(std.isArray(v), path, v, 'a list', "e.g. ['5ms', '50ms', '1s']")
  && std.all([goDuration('%s[%d]' % [path, i], v[i]) for i in std.range(0, std.length(v) - 1)]);

local ratio(path, v) =
  need(std.isNumber(v) && v > 0 && v <= 1, path, v, 'a share between 0 and 1', 'e.g. 0.9 for 90 %');

// Key path (`*`: any key of that object) → its rule.
local rules = {
  '_config.bindAddress': ipv4,
  '_config.ports.*': port,
  '_config.containerPorts.*': port,
  '_config.prometheus.scrapeInterval': promDuration,
  '_config.prometheus.spanMetricsScrapeInterval': promDuration,
  '_config.prometheus.retention': promDuration,
  '_config.tempo.retention': goDuration,
  '_config.tempo.collectionInterval': goDuration,
  '_config.spanMetrics.flushInterval': goDuration,
  '_config.spanMetrics.buckets': goDurations,
  '_config.serviceGraph.wait': goDuration,
  '_config.stateDisk.warnUsedRatio': ratio,
};
local objectRules = { '_config.ports': distinctPorts };

local article(t) = (if std.member(['array', 'object'], t) then 'an ' else 'a ') + t;
local sameType(path, d, v) =
  std.type(v) == std.type(d)
  || error '%s must be %s like its default, got %s%s' % [
    path,
    article(std.type(d)),
    show(v),
    if std.isObject(d) then ' — to change some of its keys, merge with +:' else '',
  ];

// `merged` is the config with the override applied: what the components will get.
local values(defaults, override, merged, path) =
  std.all([
    local here = path + '.' + k, d = defaults[k], v = merged[k];
    local rule = if std.objectHas(rules, here) then rules[here] else std.get(rules, path + '.*');
    if rule != null then rule(here, v)
    else if d == null || std.isFunction(d) then true
    else if freeMap(d) then sameType(here, d, v)
                            && std.all([need(std.isString(v[m]), here + '.' + m, v[m], 'a string', 'quote it') for m in std.objectFields(v)])
    else if std.isObject(d) && std.isObject(v) && std.isObject(override[k]) then
      values(d, override[k], v, here) && (if std.objectHas(objectRules, here) then objectRules[here](here, v) else true)
    else sameType(here, d, v)
    for k in std.objectFieldsAll(override)
  ]);

{
  overrides(base, override)::
    assert std.isObject(override) : 'stack/local.libsonnet must evaluate to an object, like { _config+:: { ... } }';
    local extra = [k for k in std.objectFieldsAll(override) if k != '_config'];
    assert extra == [] : 'stack/local.libsonnet may only override _config, found: ' + std.join(', ', extra);
    if std.objectHasAll(override, '_config')
       && walk(base._config, override._config, '_config')
       && values(base._config, override._config, (base + override)._config, '_config')
    then override
    else override,
}
