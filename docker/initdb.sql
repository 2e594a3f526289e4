-- The project's database, owned by the dubline role (POSTGRES_USER of docker/compose.yaml); no password here:
-- the role's password is PGPASSWORD of docker/dubline.env.
CREATE DATABASE dubline;
