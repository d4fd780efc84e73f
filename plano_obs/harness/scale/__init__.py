"""Past one machine (docs/scale-out.md): the parts of the local scale-out run as processes —
the collector gateway tier (gateways.py), and Tempo scaled out over Apache Kafka beside a
single-binary Tempo to compare with (kafka.py, cluster.py)."""
