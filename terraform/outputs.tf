output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.nexum_vpc.id
}

output "private_subnet_ids" {
  description = "Subnets of the API tasks and the database."
  value       = aws_subnet.nexum_private[*].id
}

output "public_subnet_ids" {
  description = "Subnets of the load balancer and the NAT gateways."
  value       = aws_subnet.nexum_public[*].id
}

output "alb_dns_name" {
  description = "Point the API's DNS name (an alias record) here."
  value       = aws_lb.nexum_alb.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for an alias record."
  value       = aws_lb.nexum_alb.zone_id
}

output "db_address" {
  description = "Host name of the PostgreSQL primary (port 5432), for NEXUM_DATABASE_URL."
  value       = aws_db_instance.nexum_db.address
}

output "db_master_user_secret_arn" {
  description = "Secrets Manager secret holding the RDS master password (for creating Nexum's role)."
  value       = aws_db_instance.nexum_db.master_user_secret[0].secret_arn
}

output "nexum_secret_arns" {
  description = "Secrets to fill with `aws secretsmanager put-secret-value` before the first deployment."
  value       = { for name, secret in aws_secretsmanager_secret.nexum : name => secret.arn }
}

output "ecs_cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.nexum_cluster.name
}

output "ecs_service_name" {
  description = "The API's ECS service."
  value       = aws_ecs_service.nexum_api.name
}

output "log_group_name" {
  description = "CloudWatch log group of the API."
  value       = aws_cloudwatch_log_group.nexum_api.name
}
