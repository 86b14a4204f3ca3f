-- The dead letters (推送失败（死信）, the 总览 card's list): a handful among millions of
-- deliveries, found without reading the others (the list read all 2,000,000 deliveries of a
-- million records, 330 ms, to find none). Nothing is written to it while deliveries go well.
CREATE INDEX deliveries_dead ON deliveries (id) WHERE status = 'dead';
