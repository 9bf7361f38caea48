-- SKUs (size, colour): a product's as JSON; a flash sale's, each with its own stock and
-- sold, as JSON written back by the buy batch that holds the sale's row (FOR UPDATE);
-- the SKU an order bought.
ALTER TABLE products ADD COLUMN skus TEXT NOT NULL DEFAULT '[]';
ALTER TABLE flash_sales ADD COLUMN skus TEXT NOT NULL DEFAULT '[]';
ALTER TABLE orders ADD COLUMN sku_id TEXT;
