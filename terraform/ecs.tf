# The API on ECS Fargate: tasks in the private subnets, registered with the load balancer,
# 3 to 20 of them by CPU and memory (the deployment guide's HPA numbers).

locals {
  # Nexum's settings (as .env.production.example); secrets come from secrets.tf.
  settings = merge(
    {
      NEXUM_ENVIRONMENT                 = "production"
      NEXUM_API_HOST                    = "0.0.0.0"
      NEXUM_API_PORT                    = "8090"
      NEXUM_API_WORKERS                 = tostring(var.api_workers)
      NEXUM_API_TIMEOUT                 = "60"
      NEXUM_API_MAX_REQUEST_SIZE        = "16777216"
      NEXUM_DATABASE_POOL_SIZE          = "20"
      NEXUM_DATABASE_POOL_OVERFLOW      = "30"
      NEXUM_DATABASE_POOL_TIMEOUT       = "30"
      NEXUM_JWT_EXPIRY_HOURS            = "4"
      NEXUM_ENCRYPTION_ENABLED          = "true"
      NEXUM_ENCRYPTION_PROVIDER         = "aesgcm"
      NEXUM_ENABLE_RATE_LIMITING        = "true"
      NEXUM_RATE_LIMIT_GLOBAL           = "2000"
      NEXUM_RATE_LIMIT_AUTH             = "20"
      NEXUM_CORS_ORIGINS                = join(",", var.cors_origins)
      NEXUM_TRUSTED_PROXIES             = var.vpc_cidr
      NEXUM_LOG_LEVEL                   = "INFO"
      NEXUM_LOG_FORMAT                  = "json"
      NEXUM_MAX_DAILY_TRANSACTION_LIMIT = "100000.00"
      NEXUM_MAX_TRANSACTION_AMOUNT      = "500000.00"
      NEXUM_MIN_ACCOUNT_BALANCE         = "0.00"
      NEXUM_ENABLE_METRICS              = "true"
      NEXUM_ENABLE_TRACING              = "false"
      NEXUM_AUTO_MIGRATE                = "true"
      NEXUM_MIGRATION_TIMEOUT_SECONDS   = "300"
    },
    var.extra_settings,
  )
}

resource "aws_cloudwatch_log_group" "nexum_api" {
  name              = "/ecs/${local.name}/api"
  retention_in_days = var.log_retention_days
}

# ECS Fargate for application
resource "aws_ecs_cluster" "nexum_cluster" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "nexum_api" {
  family                   = "nexum-api"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.nexum_execution.arn
  task_role_arn            = aws_iam_role.nexum_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "nexum-api"
      image                  = "${var.ecr_repository_url}:${var.image_tag}"
      essential              = true
      user                   = "1000:1000"
      readonlyRootFilesystem = true
      stopTimeout            = 75

      portMappings = [
        {
          containerPort = 8090
          protocol      = "tcp"
        }
      ]

      environment = [for name, value in local.settings : { name = name, value = value }]

      secrets = [
        for name, secret in aws_secretsmanager_secret.nexum : {
          name      = name
          valueFrom = secret.arn
        }
      ]

      mountPoints = [
        {
          sourceVolume  = "tmp"
          containerPath = "/tmp"
          readOnly      = false
        }
      ]

      linuxParameters = {
        initProcessEnabled = true
        capabilities = {
          drop = ["ALL"]
        }
      }

      ulimits = [
        {
          name      = "nofile"
          softLimit = 65536
          hardLimit = 65536
        }
      ]

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.nexum_api.name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = "ecs"
        }
      }

      # Liveness: the process answers (the image has no curl). The load balancer checks
      # readiness (/health/ready) itself.
      healthCheck = {
        command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8090/health/live', timeout=5)"]
        interval    = 30
        timeout     = 10
        retries     = 3
        startPeriod = 60
      }
    }
  ])
}

resource "aws_ecs_service" "nexum_api" {
  name            = "nexum-api"
  cluster         = aws_ecs_cluster.nexum_cluster.id
  task_definition = aws_ecs_task_definition.nexum_api.arn
  desired_count   = var.min_capacity
  launch_type     = "FARGATE"
  propagate_tags  = "SERVICE"

  # Migrations at start-up may take up to NEXUM_MIGRATION_TIMEOUT_SECONDS.
  health_check_grace_period_seconds  = 360
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.nexum_private[*].id
    security_groups  = [aws_security_group.nexum_api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.nexum_api.arn
    container_name   = "nexum-api"
    container_port   = 8090
  }

  # The autoscaler owns the count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.nexum_https]
}

# Auto Scaling
resource "aws_appautoscaling_target" "nexum_target" {
  max_capacity       = var.max_capacity
  min_capacity       = var.min_capacity
  resource_id        = "service/${aws_ecs_cluster.nexum_cluster.name}/${aws_ecs_service.nexum_api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  service_namespace  = "ecs"
}

resource "aws_appautoscaling_policy" "nexum_up" {
  name               = "nexum-scale-up"
  policy_type        = "TargetTrackingScaling"
  resource_id        = aws_appautoscaling_target.nexum_target.resource_id
  scalable_dimension = aws_appautoscaling_target.nexum_target.scalable_dimension
  service_namespace  = aws_appautoscaling_target.nexum_target.service_namespace

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    target_value       = var.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  }
}

resource "aws_appautoscaling_policy" "nexum_memory" {
  name               = "nexum-scale-memory"
  policy_type        = "TargetTrackingScaling"
  resource_id        = aws_appautoscaling_target.nexum_target.resource_id
  scalable_dimension = aws_appautoscaling_target.nexum_target.scalable_dimension
  service_namespace  = aws_appautoscaling_target.nexum_target.service_namespace

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
    target_value       = var.memory_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  }
}
