-- The operator's per-merchant plugin limits (NULL: the node's defaults).
ALTER TABLE merchants ADD COLUMN plugin_max_code_bytes BIGINT;
