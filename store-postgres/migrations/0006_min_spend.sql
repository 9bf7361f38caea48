-- Coupons with a minimum spend (满减: "满199减20" is ¥20 off orders of ¥199 or more);
-- 0: any order.
ALTER TABLE coupons ADD COLUMN min_spend_cents BIGINT NOT NULL DEFAULT 0;
