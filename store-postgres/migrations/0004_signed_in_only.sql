-- Coupons and flash sales for signed-in viewers only: guests are refused with
-- `sign_in_required`, so per-user limits bind identities the merchant minted.
ALTER TABLE coupons ADD COLUMN signed_in_only BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE flash_sales ADD COLUMN signed_in_only BOOLEAN NOT NULL DEFAULT FALSE;
