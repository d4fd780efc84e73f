// Validation of a user's override mixin: only `_config` may be overridden, and only
// with keys that exist, so a typo fails the build instead of being silently ignored.
local walk(defaults, override, path) =
  std.foldl(
    function(ok, k)
      local here = path + '.' + k;
      if !std.objectHasAll(defaults, k) then
        error 'unknown override key %s (known keys: %s)' % [here, std.join(', ', std.objectFields(defaults))]
      else if std.isObject(override[k]) && std.isObject(defaults[k]) then
        ok && walk(defaults[k], override[k], here)
      else ok,
    std.objectFieldsAll(override),
    true
  );

{
  overrides(base, override)::
    assert std.isObject(override) : 'stack/local.libsonnet must evaluate to an object, like { _config+:: { ... } }';
    local extra = [k for k in std.objectFieldsAll(override) if k != '_config'];
    assert extra == [] : 'stack/local.libsonnet may only override _config, found: ' + std.join(', ', extra);
    if std.objectHasAll(override, '_config') && walk(base._config, override._config, '_config')
    then override
    else override,
}
