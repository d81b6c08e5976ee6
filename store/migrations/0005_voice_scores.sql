-- Version 5: two more scores per analysis (NLP v2). grievance: a staff member's own complaint or
-- request (诉求), the officers' 提案线索; abuse: personal insult or harassment. Rows analysed before
-- this version keep 0 until they are analysed again.

ALTER TABLE analyses ADD COLUMN grievance REAL NOT NULL DEFAULT 0;
ALTER TABLE analyses ADD COLUMN abuse REAL NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS analyses_grievance ON analyses (grievance) WHERE grievance >= 0.5;
