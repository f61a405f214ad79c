-- The operational store's schema as release 0.1.0 created it (metadata.create_all, PostgreSQL),
-- frozen for the migration tests: generated once from that release's metadata, never regenerated.

CREATE TABLE api_calls (
	id SERIAL NOT NULL, 
	system VARCHAR(40) NOT NULL, 
	method VARCHAR(10) NOT NULL, 
	path TEXT NOT NULL, 
	status INTEGER, 
	latency_ms INTEGER, 
	attempt INTEGER, 
	correlation_id VARCHAR(64), 
	error TEXT, 
	request_body TEXT, 
	response_body TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE crosswalk (
	entity VARCHAR(60) NOT NULL, 
	system VARCHAR(40) NOT NULL, 
	system_id VARCHAR(300) NOT NULL, 
	canonical_id VARCHAR(300) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (entity, system, system_id)
);

CREATE INDEX ix_crosswalk_canonical ON crosswalk (entity, canonical_id);

CREATE TABLE cursors (
	name VARCHAR(200) NOT NULL, 
	value VARCHAR(200) NOT NULL, 
	evidence TEXT, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE inbox (
	id SERIAL NOT NULL, 
	system VARCHAR(40) NOT NULL, 
	event_id VARCHAR(300) NOT NULL, 
	event_type VARCHAR(100) NOT NULL, 
	payload TEXT NOT NULL, 
	received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	processed_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_inbox_event UNIQUE (system, event_id)
);

CREATE TABLE ledger (
	idempotency_key VARCHAR(400) NOT NULL, 
	flow VARCHAR(100) NOT NULL, 
	target_system VARCHAR(40) NOT NULL, 
	source_system VARCHAR(40) NOT NULL, 
	record_ref VARCHAR(300) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	attempts INTEGER NOT NULL, 
	payload TEXT, 
	result TEXT, 
	error TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (idempotency_key)
);

CREATE INDEX ix_ledger_flow ON ledger (flow);

CREATE INDEX ix_ledger_status ON ledger (status);

CREATE TABLE plan_watermarks (
	flow VARCHAR(100) NOT NULL, 
	location_key VARCHAR(100) NOT NULL, 
	committed_version BIGINT, 
	staged_version BIGINT, 
	staged_token VARCHAR(64), 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (flow, location_key)
);

CREATE TABLE rejected (
	id SERIAL NOT NULL, 
	flow VARCHAR(100) NOT NULL, 
	system VARCHAR(40) NOT NULL, 
	entity VARCHAR(60) NOT NULL, 
	record_ref VARCHAR(300) NOT NULL, 
	field VARCHAR(100) NOT NULL, 
	reason TEXT NOT NULL, 
	payload TEXT, 
	idempotency_key VARCHAR(400), 
	status VARCHAR(20) NOT NULL, 
	attempts INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_rejected_record UNIQUE (flow, system, record_ref, field)
);

CREATE INDEX ix_rejected_idempotency_key ON rejected (idempotency_key);

CREATE TABLE rejected_audit (
	id SERIAL NOT NULL, 
	rejected_id INTEGER NOT NULL, 
	action VARCHAR(40) NOT NULL, 
	outcome VARCHAR(40), 
	actor VARCHAR(200) NOT NULL, 
	reason TEXT, 
	detail TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_rejected_audit_rejected_id ON rejected_audit (rejected_id);

CREATE TABLE run_failures (
	id SERIAL NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	job_name VARCHAR(200) NOT NULL, 
	step_key VARCHAR(300), 
	error TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_run_failures_run_id ON run_failures (run_id);

CREATE TABLE stock_baseline (
	source_system VARCHAR(40) NOT NULL, 
	sku VARCHAR(200) NOT NULL, 
	location_key VARCHAR(100) NOT NULL, 
	level BIGINT NOT NULL, 
	version BIGINT NOT NULL, 
	last_key VARCHAR(400), 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (source_system, sku, location_key)
);

CREATE TABLE stock_claims (
	source_system VARCHAR(40) NOT NULL, 
	sku VARCHAR(200) NOT NULL, 
	location_key VARCHAR(100) NOT NULL, 
	claimed_by VARCHAR(400) NOT NULL, 
	holder VARCHAR(300) NOT NULL, 
	claimed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (source_system, sku, location_key)
);

CREATE TABLE store_pos (
	location_key VARCHAR(100) NOT NULL, 
	pos_system VARCHAR(40) NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (location_key)
);
