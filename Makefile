# The two commands of the README, and a few helpers.
.PHONY: run test install topics schemas asyncapi fmt lint kafka-start kafka-stop

run:            ## install what is missing, start Kafka, every service, the simulator
	@deploy/run.sh

test:           ## install what is missing, start Kafka and PostgreSQL, run every check
	@deploy/test.sh

install:
	@deploy/install.sh test

topics:
	@uv run --frozen anbu-topics create

schemas:        ## regenerate contracts/schemas/, docs/asyncapi.yaml, docs/openapi/, protocols.md, rules.md
	@uv run --frozen python -m anbu_contracts.export
	@uv run --frozen python tools/gen_asyncapi.py
	@uv run --frozen python tools/gen_openapi.py
	@uv run --frozen python tools/gen_protocols_doc.py
	@uv run --frozen python tools/gen_rules_doc.py

fmt:
	@uv run --frozen ruff format .
	@uv run --frozen ruff check --fix .

kafka-start:
	@deploy/kafka.sh start

kafka-stop:
	@deploy/kafka.sh stop
