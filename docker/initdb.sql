CREATE USER dubline WITH PASSWORD 'dubline';
CREATE DATABASE dubline OWNER dubline;
