"""the development Plano and its fakes: brightstaff's config, the mock LLM and agents, traffic, the WASM filter."""
