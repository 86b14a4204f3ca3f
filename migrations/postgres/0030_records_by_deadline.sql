-- Every record in deadline order, for the lists that are not only open records (the 记录总数
-- card's 全部, a department's records, 已报送 and 补报, a search): before this index such a
-- page sorted every record, now it reads the first rows in order (id last: the lists' order).
-- Open lists keep `records_open_deadlines`.
CREATE INDEX records_by_deadline ON records (deadline, id);
