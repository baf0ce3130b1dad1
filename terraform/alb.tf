# Application Load Balancer: HTTPS only (HTTP redirects), /health/ready decides which tasks
# get traffic, /metrics is not served to the internet, and a WAF rate limit per client
# address stops a flood before it reaches the API.

resource "aws_lb" "nexum_alb" {
  name               = "${local.name}-alb"
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.nexum_alb.id]
  subnets            = aws_subnet.nexum_public[*].id

  enable_deletion_protection = true
  drop_invalid_header_fields = true
  # A little over NEXUM_API_TIMEOUT, so that Nexum's own timeout answer arrives first.
  idle_timeout = 65

  tags = {
    Name = "nexum-production-alb"
  }
}

resource "aws_lb_target_group" "nexum_api" {
  name                 = "${local.name}-api"
  port                 = 8090
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.nexum_vpc.id
  deregistration_delay = 30

  health_check {
    path                = "/health/ready"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "nexum_https" {
  load_balancer_arn = aws_lb.nexum_alb.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.nexum_api.arn
  }
}

resource "aws_lb_listener" "nexum_http" {
  load_balancer_arn = aws_lb.nexum_alb.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener_rule" "nexum_hide_metrics" {
  listener_arn = aws_lb_listener.nexum_https.arn
  priority     = 10

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Not Found"
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = ["/metrics"]
    }
  }
}

resource "aws_wafv2_web_acl" "nexum" {
  name  = "${local.name}-api"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-address"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "nexum-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "nexum-api"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "nexum" {
  resource_arn = aws_lb.nexum_alb.arn
  web_acl_arn  = aws_wafv2_web_acl.nexum.arn
}
