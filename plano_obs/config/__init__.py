"""configuration: where files live, the Jsonnet rendering, the settings every layer reads."""
