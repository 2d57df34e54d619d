-- One database per service: each service owns its data (docker-compose).
CREATE DATABASE registry;
CREATE DATABASE gateway;
CREATE DATABASE detector;
CREATE DATABASE outreach;
CREATE DATABASE notifier;
CREATE DATABASE console;
