"""What every anbu service process shares: settings, clock, logging, Kafka consumption with
dead letters, the transactional outbox and inbox, RFC 9457 problems, health and metrics."""
