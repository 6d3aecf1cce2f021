DROP TABLE deletion_notices;
DROP TABLE account_links;
