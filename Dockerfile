FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir -e .

COPY . .
RUN SECRET_KEY=build python manage.py collectstatic --noinput

RUN useradd --create-home asi && chown -R asi /app
USER asi
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--ping-interval", "20", "--ping-timeout", "30", "--websocket_timeout", "-1", "asi_api.asgi:application"]
