-- Each room's product bag (小黄车): the products its live sells, in the merchant's order,
-- replaced whole.
CREATE TABLE room_products (
    room_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    PRIMARY KEY (room_id, position)
);
