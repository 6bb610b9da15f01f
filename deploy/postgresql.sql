-- PostgreSQL for ppp-desk records: one role, one database (run as the postgres superuser:
--   sudo -u postgres psql -f deploy/postgresql.sql ), then set DATABASE_URL and run
--   `ppp-desk migrate`. Change the password; pg_hba.conf should allow it from the app host only.
CREATE ROLE ppp_desk LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE ppp_desk OWNER ppp_desk ENCODING 'UTF8' TEMPLATE template0;
